"""`osint analyze` on a planted world written into the store: groups, timeline signals, exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx

from osint.cases import create_case
from osint.cases import get_case as find_case
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter
from osint.storage.records import AccountRecord, PostRecord, ProfileRecord
from osint.synth.planted import Scenario, ScenarioConfig, generate_scenario
from tests.conftest import CliRun

SMALL = ScenarioConfig(
    n_accounts=220, n_groups=4, group_size=(10, 14), n_objects=300, n_viral=8,
    organic_posts_per_day=1.5, organic_reshare_fraction=0.05, seed=11,
)  # fmt: skip


def _when(epoch: int) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)


def _write(store: Store, scenario: Scenario) -> None:
    """The scenario as collected data: profiles (with rename history) and reposts."""
    create_case(store, "planted")
    records = {}
    with store.session() as session:
        writer = CaseWriter(session, find_case(session, "planted").id, source="test")
        for account in scenario.accounts:
            history = [(when, handle) for when, handle, _ in account.name_history] or [
                (scenario.timestamp.min(), account.handle)
            ]
            for when, handle in [*history, (int(scenario.timestamp.min()), account.handle)]:
                record = AccountRecord(
                    "x", str(account.account_id), handle, handle, _when(account.created_at)
                )
                writer.snapshot(
                    ProfileRecord(record, location=account.location),
                    captured_at=_when(when),
                    capture_id=None,
                )
            records[account.account_id] = AccountRecord(
                "x", str(account.account_id), account.handle, account.handle
            )
        posts = [
            PostRecord("x", f"p{post}", records[int(account)], _when(ts), kind="repost", repost_of=f"t{obj}",
                       objects=[("repost", f"x:t{obj}")])
            for obj, account, post, ts in zip(scenario.object_id, scenario.account_id, scenario.post_id, scenario.timestamp, strict=True)
        ]  # fmt: skip
        for start in range(0, len(posts), 2_000):
            writer.posts(posts[start : start + 2_000])


def test_analyze_finds_the_planted_groups_and_explains_them(
    run_cli: CliRun, store: Store, tmp_path: Path
) -> None:
    scenario = generate_scenario(SMALL)
    _write(store, scenario)
    truth = {str(a) for a in scenario.coordinated_accounts}

    result = run_cli("analyze", "--case", "planted")
    assert "Coordinated groups" in result.stdout and "timeline of case planted" in result.stdout

    findings = [
        json.loads(line)
        for line in run_cli("export", "findings", "--case", "planted").stdout.splitlines()
    ]
    groups = [f for f in findings if f["kind"] == "coordinated_group"]
    assert len(groups) == SMALL.n_groups
    flagged = {a["account_id"] for f in groups for a in f["accounts"]}
    assert len(flagged & truth) >= 0.95 * len(truth) and flagged <= truth
    assert all(f["posts"] and f["posts"][0]["post_id"].startswith("p") for f in groups)
    assert all(o.startswith("x:t") for f in groups for o in f["details"]["objects"])
    kinds = {f["kind"] for f in findings}
    assert {"timezone_mismatch", "office_hours", "name_change", "creation_burst"} <= kinds
    timeline_accounts = {
        a["account_id"] for f in findings if f["analysis"] == "timeline" for a in f["accounts"]
    }
    assert timeline_accounts <= truth
    assert findings == sorted(findings, key=lambda f: -f["score"])

    again = run_cli("analyze", "--case", "planted")  # re-running replaces, never piles up
    assert again.exit_code == 0
    assert len(run_cli("export", "findings", "--case", "planted").stdout.splitlines()) == len(
        findings
    )

    path = tmp_path / "planted.graphml"
    run_cli("export", "network", "--case", "planted", "--format", "graphml", "-o", str(path))
    graph = nx.read_graphml(path)
    communities = {n: d["community"] for n, d in graph.nodes(data=True)}
    assert {n for n, c in communities.items() if c > 0} == flagged
    assert any(d["signals"] for n, d in graph.nodes(data=True) if n in truth)
    assert all(d["created_at"] for _, d in graph.nodes(data=True))
