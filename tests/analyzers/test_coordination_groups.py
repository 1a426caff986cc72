"""Detection quality on planted scenarios: 10,000 accounts, groups we know the truth of."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from osint.analysis.coordination import CoordinationOptions
from osint.analyzers.coordination import detect_groups, generate_coordinated_network
from osint.analyzers.coordination_groups import (
    FINDING_KIND,
    find_candidate_groups,
    group_findings,
    group_score,
)
from osint.analyzers.findings import FindingDraft
from osint.analyzers.timeline import timeline_findings
from osint.synth.planted import Scenario, ScenarioConfig, generate_scenario

DEFAULTS = CoordinationOptions()  # the settings `osint analyze` runs with


@dataclass
class Run:
    scenario: Scenario
    findings: list[FindingDraft]
    group_accounts: set[int]
    flagged: set[int]


def _analyse(config: ScenarioConfig) -> Run:
    scenario = generate_scenario(config)
    pairs = detect_groups(scenario.share_table(), DEFAULTS.window, DEFAULTS.min_participation)
    network = generate_coordinated_network(pairs, DEFAULTS.edge_weight)
    groups, _ = find_candidate_groups(pairs, network, DEFAULTS.groups)
    timelines = scenario.timelines()
    profiles = {t.profile.account_id: t.profile for t in timelines}
    coordination = group_findings(pairs, groups, profiles)
    labelled = {f"group #{f.details['group']}": f.accounts for f in coordination}
    findings = coordination + timeline_findings(timelines, labelled)
    group_accounts = {a for f in coordination for a in f.accounts}
    flagged = {a for f in findings for a in f.accounts}
    return Run(scenario, findings, group_accounts, flagged)


@pytest.fixture(scope="module")
def default_run() -> Run:
    return _analyse(ScenarioConfig(n_accounts=10_000, seed=7))


def _precision_recall(flagged: set[int], truth: set[int]) -> tuple[float, float]:
    hits = len(flagged & truth)
    return hits / max(len(flagged), 1), hits / len(truth)


def test_flags_planted_accounts_with_high_precision_and_recall(default_run: Run) -> None:
    truth = default_run.scenario.coordinated_accounts
    assert len(default_run.scenario.accounts) == 10_000 and len(truth) > 300
    precision, recall = _precision_recall(default_run.group_accounts, truth)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    precision_all, recall_all = _precision_recall(default_run.flagged, truth)
    assert precision_all >= 0.95 and recall_all >= 0.95, (precision_all, recall_all)


def test_organic_accounts_sharing_viral_content_are_not_flagged(default_run: Run) -> None:
    scenario = default_run.scenario
    campaign = np.concatenate(list(scenario.campaign_objects.values()))
    viral = np.arange(scenario.config.n_viral)
    organic = ~np.isin(scenario.account_id, list(scenario.coordinated_accounts))
    resharers = set(
        scenario.account_id[
            organic & np.isin(scenario.object_id, np.concatenate([campaign, viral]))
        ].tolist()
    )
    assert len(resharers) > 1_000  # many organic accounts did share the viral and campaign content
    assert not resharers & default_run.flagged


def test_each_planted_group_is_one_finding_with_its_evidence(default_run: Run) -> None:
    groups = [f for f in default_run.findings if f.kind == FINDING_KIND]
    assert len(groups) == len(default_run.scenario.groups)
    for finding in groups:
        members = set(finding.accounts)
        planted = [
            set(m.tolist())
            for m in default_run.scenario.groups.values()
            if members & set(m.tolist())
        ]
        assert len(planted) == 1 and len(members & planted[0]) >= 0.95 * len(planted[0])
        assert finding.posts and finding.details["co_shares"] > 0
        assert "accounts shared the same" in finding.explanation
    burst_group = next(f for f in groups if "were created between" in f.explanation)
    assert burst_group.score >= 0.5


def test_timeline_signals_point_at_the_planted_accounts(default_run: Run) -> None:
    truth = default_run.scenario.coordinated_accounts
    by_kind: dict[str, set[int]] = {}
    for finding in default_run.findings:
        by_kind.setdefault(finding.kind, set()).update(finding.accounts)
    for kind in (
        "timezone_mismatch",
        "office_hours",
        "machine_regularity",
        "name_change",
        "creation_burst",
    ):
        assert by_kind.get(kind), kind
        assert by_kind[kind] <= truth, kind


def test_harder_scenario_keeps_precision() -> None:
    run = _analyse(
        ScenarioConfig(
            n_accounts=4_000,
            n_groups=6,
            participation=0.5,
            campaign_objects=(6, 12),
            campaign_spread_seconds=90.0,
            seed=3,
        )
    )
    precision, recall = _precision_recall(run.group_accounts, run.scenario.coordinated_accounts)
    assert precision >= 0.95 and recall >= 0.7, (precision, recall)


def test_group_score_separates_chance_from_coordination() -> None:
    chance_triangle = group_score(3, [2.0, 2.0, 3.0])
    chance_tree = group_score(6, [2.0] * 5)
    planted = group_score(20, [6.0] * 150)
    assert chance_triangle < 0.5 and chance_tree < 0.5 and planted > 0.9
    assert group_score(1, []) == 0.0
