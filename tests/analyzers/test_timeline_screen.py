"""The numpy screen finds exactly what the per-account timeline functions find."""

from __future__ import annotations

import numpy as np
import pytest

from osint.analyzers.timeline import (
    AccountProfile,
    AccountTimeline,
    NameObservation,
    timeline_findings,
)
from osint.analyzers.timeline_screen import PostsByAccount, screen, timeline_findings_at_scale
from osint.synth.planted import ScenarioConfig, generate_scenario


def _key(finding) -> tuple:
    return (finding.kind, finding.accounts, finding.score, finding.explanation, finding.posts)


@pytest.mark.parametrize("seed", [3, 8])
def test_same_findings_as_the_per_account_functions(seed: int) -> None:
    scenario = generate_scenario(
        ScenarioConfig(n_accounts=2_500, n_groups=4, group_size=(10, 20), seed=seed)
    )
    timelines = scenario.timelines()
    profiles = {t.profile.account_id: t.profile for t in timelines}
    groups = {f"group #{g}": [int(a) for a in m] for g, m in scenario.groups.items()}
    exact = timeline_findings(timelines, groups)
    posts = PostsByAccount.build(scenario.account_id, scenario.post_id, scenario.timestamp)
    fast = timeline_findings_at_scale(posts, profiles, groups)
    assert len(exact) > 20  # the planted groups do raise signals
    assert sorted(map(_key, fast)) == sorted(map(_key, exact))


def test_screen_scores_match_the_exact_signals_on_random_accounts() -> None:
    rng = np.random.default_rng(4)
    accounts, times, profiles, timelines = [], [], [], []
    start = 1_650_000_000
    for account in range(300):
        n = int(rng.integers(0, 80))
        kind = account % 4
        if kind == 0:  # a scheduler: every 10 minutes on the minute
            t = start + np.arange(n) * 600
        elif kind == 1:  # office hours
            day = rng.integers(0, 28, n)
            t = start + day * 86_400 + rng.integers(9 * 3600, 17 * 3600, n)
        else:
            t = start + rng.integers(0, 28 * 86_400, n)
        profile = AccountProfile(account, f"u{account}", start - int(rng.integers(0, 400)) * 86_400,
                                 ["Paris", "Bamako", None, "Moscow"][kind])  # fmt: skip
        accounts.append(np.full(n, account))
        times.append(t)
        profiles.append(profile)
        timelines.append(AccountTimeline.build(profile, np.arange(n), t))
    posts = PostsByAccount.build(
        np.concatenate(accounts), np.arange(sum(map(len, times))), np.concatenate(times)
    )
    by_account = {int(a): i for i, a in enumerate(posts.accounts.tolist())}
    scores = screen(posts, [profiles[int(a)] for a in posts.accounts.tolist()])
    from osint.analyzers.timeline import account_signals

    for timeline in timelines:
        if timeline.post_times.size == 0:
            continue
        exact = max((s.score for s in account_signals(timeline)), default=0.0)
        assert scores[by_account[int(timeline.profile.account_id)]] == pytest.approx(
            exact, abs=1e-3
        )


def test_a_renamed_account_without_posts_is_still_checked() -> None:
    history = (
        NameObservation(1_650_000_000, "old", "Old"),
        NameObservation(1_650_100_000, "new", "New"),
    )
    profiles = {7: AccountProfile(7, "new", None, None, history)}
    posts = PostsByAccount.build(
        np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    )
    fast = timeline_findings_at_scale(posts, profiles)
    exact = timeline_findings([AccountTimeline.build(profiles[7], [], [])])
    assert [f.kind for f in fast] == [f.kind for f in exact] == ["name_change"]
