"""Coordinated groups: candidates from the co-share network, judged by the significance model.

Candidates: account pairs that co-shared at least two distinct objects within the window
(objects shared by more than ``max_object_shares`` accounts, viral posts, propose no pair),
weighted by the distinct objects they co-shared (or by how rare those are, IDF as in Pacheco
et al.), split into Leiden communities (constant Potts model). Each community is then judged by ``coordination_significance``: a member stays
only when its own co-sharing with the others is far beyond what the objects' share times
give by chance (Bonferroni over every account tested). An account left alone is tried once
more with the accepted group it is most linked to. Groups with ``min_group_size`` members
that pass are flagged; the other candidates are kept, labelled as not flagged.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from osint.analyzers.coordination import CoSharePairs, InvalidParameterError
from osint.analyzers.coordination_significance import (
    GroupStats,
    MemberEvidence,
    ObjectProfile,
    SignificanceSettings,
    group_stats,
    judge_members,
    object_profile,
)
from osint.analyzers.findings import FindingDraft, FindingKind, GroupEdge, edges_to_details
from osint.analyzers.timeline import AccountProfile, creation_burst, format_day, format_duration

logger = logging.getLogger(__name__)

FINDING_KIND = FindingKind.COORDINATED_GROUP
MAX_EVIDENCE_POSTS = 500
MAX_UNFLAGGED = 200  # candidate groups kept (not flagged) for `--all`, the strongest first


@dataclass(frozen=True)
class GroupSettings:
    """What makes a community a flagged group (chosen on ``osint.synth.family.CHOOSING_SEEDS``:
    of the settings tried, the most powerful that kept precision on every family)."""

    alpha: float = 0.01
    prior_cap: float = 0.15
    prior_weight: float = 3.0
    min_group_size: int = 3
    homogeneity: float = 0.6
    min_distinct_objects: int = 2
    max_object_shares: int = 1_000
    # Leiden with the constant Potts model: communities whose account pairs co-shared more
    # than ``resolution`` distinct objects on average. Modularity lumped small rings with
    # the crowd of fans they amplify (its resolution limit); CPM does not.
    resolution: float = 1.0
    objective: str = "CPM"
    edge_weight: str = "distinct"  # distinct: objects co-shared; idf: summed rarity
    seed: int = 42
    reattach: bool = True  # try each account left alone with the group it is most linked to

    def __post_init__(self) -> None:
        if self.objective not in ("CPM", "modularity") or self.edge_weight not in (
            "idf",
            "distinct",
        ):
            raise InvalidParameterError(
                "objective is CPM or modularity; edge_weight idf or distinct"
            )
        if self.min_group_size < 2 or self.min_distinct_objects < 1:
            raise InvalidParameterError("min_group_size must be >= 2 and min_distinct_objects >= 1")
        self.significance()  # checks alpha and prior_cap

    def significance(self) -> SignificanceSettings:
        return SignificanceSettings(
            alpha=self.alpha,
            prior_cap=self.prior_cap,
            prior_weight=self.prior_weight,
            min_group_size=self.min_group_size,
            homogeneity=self.homogeneity,
        )


@dataclass(frozen=True)
class CandidateGroup:
    """One candidate group: its accounts (ids as in the share table), members' tests, objects."""

    accounts: tuple[int | str, ...]
    account_codes: np.ndarray
    flagged: bool
    member_objects: np.ndarray  # per member: objects shared with other members (K)
    member_close: np.ndarray  # per member: mean share of those members within the window
    member_expected: np.ndarray  # ... and what chance gives
    member_p: np.ndarray
    member_activity: np.ndarray  # per member: its shares in the case
    objects: int
    close_objects: int
    close_pairs: int
    expected_pairs: float
    p_value: float
    threshold: float
    tested: int
    pair_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    object_codes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    modalities: tuple[str, ...] = ()
    first_share: int = 0
    last_share: int = 0
    median_time_delta: float = 0.0
    median_delay: float = 0.0  # seconds after each object's first share, members' median

    @property
    def size(self) -> int:
        return len(self.accounts)

    @property
    def score(self) -> float:
        """In [0, 1]: 0.5 at the flagging bar, 1 at its square (log scale)."""
        if self.p_value >= 1.0 or self.threshold >= 1.0:
            return 0.0
        ratio = math.log(max(self.p_value, 1e-300)) / (2 * math.log(self.threshold))
        return float(min(max(ratio, 0.0), 1.0))


def candidate_edges(
    pairs: CoSharePairs, profile: ObjectProfile, settings: GroupSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(account a, account b, distinct objects, IDF weight) of pairs of accounts that co-shared
    at least ``min_distinct_objects`` objects, not counting objects shared too widely."""
    table = pairs.shares
    objects = pairs.object_code
    keep = profile.shares[objects] <= settings.max_object_shares
    objects = objects[keep].astype(np.int64)
    x, y = pairs.account_x[keep].astype(np.int64), pairs.account_y[keep].astype(np.int64)
    low, high = np.minimum(x, y), np.maximum(x, y)
    n_accounts, n_objects = max(table.n_accounts, 1), max(table.n_objects, 1)
    if (n_accounts**2) * n_objects < 2**63:
        keys = np.unique((low * n_accounts + high) * n_objects + objects)
        edges, objects = keys // n_objects, keys % n_objects
    else:
        order = np.lexsort((objects, high, low))
        edges = np.stack([low[order], high[order], objects[order]], axis=1)
        edges = np.unique(edges, axis=0)
        objects = edges[:, 2]
        edges = edges[:, 0] * n_accounts + edges[:, 1]
    empty = np.empty(0, dtype=np.int64)
    if edges.size == 0:
        return empty, empty, empty, np.empty(0)
    idf = np.maximum(np.log(n_accounts / np.maximum(profile.shares[objects], 1)), 0.1)
    starts = np.flatnonzero(np.concatenate(([True], edges[1:] != edges[:-1])))
    distinct = np.diff(np.append(starts, edges.size))
    weight = (
        np.add.reduceat(idf, starts)
        if settings.edge_weight == "idf"
        else distinct.astype(np.float64)
    )
    chosen = distinct >= settings.min_distinct_objects
    first = edges[starts][chosen]
    return first // n_accounts, first % n_accounts, distinct[chosen], weight[chosen]


def communities(
    n_accounts: int, a: np.ndarray, b: np.ndarray, weight: np.ndarray, settings: GroupSettings
) -> np.ndarray:
    """Leiden communities (modularity) of the candidate graph: group id per account, -1 alone."""
    import igraph

    membership = np.full(n_accounts, -1, dtype=np.int64)
    if a.size == 0:
        return membership
    # Only the accounts on a candidate edge: most accounts of a big case are on none.
    linked, ends = np.unique(np.concatenate([a, b]), return_inverse=True)
    graph = igraph.Graph(n=int(linked.size), edges=ends.reshape(2, -1).T)
    igraph.set_random_number_generator(random.Random(settings.seed))
    try:
        clusters = graph.community_leiden(
            objective_function=settings.objective,
            weights=weight.tolist(),
            resolution=settings.resolution,
            n_iterations=2,
        )
    finally:
        igraph.set_random_number_generator(random)
    labels = np.asarray(clusters.membership, dtype=np.int64)
    sizes = np.bincount(labels)
    labels[sizes[labels] < settings.min_group_size] = -1
    kept = labels >= 0
    _, dense = np.unique(labels[kept], return_inverse=True)
    membership[linked[kept]] = dense
    return membership


def _reattach(final: np.ndarray, a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Each account outside every accepted group, put with the group it is most linked to."""
    trial = final.copy()
    group_a, group_b = final[a], final[b]
    one_way = (group_a < 0) & (group_b >= 0)
    other_way = (group_b < 0) & (group_a >= 0)
    source = np.concatenate([a[one_way], b[other_way]])
    target = np.concatenate([group_b[one_way], group_a[other_way]])
    weights = np.concatenate([weight[one_way], weight[other_way]])
    if source.size == 0:
        return trial
    span = int(final.max()) + 1
    keys, inverse = np.unique(source * span + target, return_inverse=True)
    sums = np.bincount(inverse, weights=weights)
    accounts, groups = keys // span, keys % span
    order = np.lexsort((-sums, accounts))
    accounts, groups = accounts[order], groups[order]
    best = np.concatenate(([True], accounts[1:] != accounts[:-1]))
    trial[accounts[best]] = groups[best]
    return trial


@dataclass
class Judgement:
    """Everything the grouping computed: candidates, the members' tests, the groups' stats."""

    profile: ObjectProfile
    candidates: np.ndarray  # community per account code, -1 for none
    evidence: MemberEvidence
    final: np.ndarray  # accepted group per account code, -1 for none
    stats: GroupStats
    candidate_stats: GroupStats
    edges: int


@dataclass(frozen=True)
class Candidates:
    """What the grouping proposes before judging: the object profile, candidate edges and
    communities (computed once, judged under any ``GroupSettings``)."""

    profile: ObjectProfile
    a: np.ndarray
    b: np.ndarray
    weight: np.ndarray
    membership: np.ndarray


def propose(pairs: CoSharePairs, settings: GroupSettings | None = None) -> Candidates:
    options = settings or GroupSettings()
    profile = object_profile(pairs.shares, pairs.time_window)
    a, b, _, weight = candidate_edges(pairs, profile, options)
    return Candidates(
        profile, a, b, weight, communities(pairs.shares.n_accounts, a, b, weight, options)
    )


def judge(
    pairs: CoSharePairs, settings: GroupSettings | None = None, proposal: Candidates | None = None
) -> Judgement:
    """Candidate communities, each member tested, the accepted groups and their statistics."""
    options = settings or GroupSettings()
    table = pairs.shares
    found = proposal or propose(pairs, options)
    profile, a, b, weight, candidates = (
        found.profile, found.a, found.b, found.weight, found.membership
    )  # fmt: skip
    significance = options.significance()
    n_tested = int(np.count_nonzero(candidates >= 0))
    evidence = judge_members(table, profile, candidates, significance)
    final = np.full(table.n_accounts, -1, dtype=np.int64)
    final[evidence.account] = evidence.group
    if options.reattach and np.any(final >= 0):
        trial = _reattach(final, a, b, weight)
        if not np.array_equal(trial, final):
            evidence = judge_members(
                table, profile, trial, significance, core=final >= 0, n_tested=n_tested
            )
            final[:] = -1
            final[evidence.account] = evidence.group
    return Judgement(
        profile,
        candidates,
        evidence,
        final,
        group_stats(table, profile, final, significance),
        group_stats(table, profile, candidates, significance),
        int(a.size),
    )


def _plain(value: object) -> int | str:
    item = value.item() if isinstance(value, np.generic) else value
    return item if isinstance(item, int | str) else str(item)


def _group_of(
    pairs: CoSharePairs,
    judgement: Judgement,
    membership: np.ndarray,
    group: int,
    stats: GroupStats,
    flagged: bool,
) -> CandidateGroup:
    table = pairs.shares
    codes = np.flatnonzero(membership == group)
    evidence = judgement.evidence
    position = np.searchsorted(evidence.account, codes)
    position = np.minimum(position, max(evidence.account.size - 1, 0))
    known = evidence.account.size > 0 and np.array_equal(evidence.account[position], codes)

    def member(values: np.ndarray, default: float) -> np.ndarray:
        return values[position] if known else np.full(codes.size, default)

    activity = np.bincount(table.account_code, minlength=table.n_accounts)[codes]
    return CandidateGroup(
        accounts=tuple(_plain(v) for v in table.account_labels_of(codes)),
        account_codes=codes,
        flagged=flagged,
        member_objects=member(evidence.objects, 0.0),
        member_close=member(evidence.close_share, 0.0),
        member_expected=member(evidence.expected_share, 0.0),
        member_p=member(evidence.p_value, 1.0),
        member_activity=activity,
        objects=int(stats.objects[group]),
        close_objects=int(stats.close_objects[group]),
        close_pairs=int(stats.close_pairs[group]),
        expected_pairs=float(stats.expected_pairs[group]),
        p_value=float(stats.p_value[group]),
        threshold=evidence.threshold,
        tested=evidence.n_tested,
    )


def _with_pairs(
    pairs: CoSharePairs, group: CandidateGroup, profile: ObjectProfile
) -> CandidateGroup:
    """The co-share pairs inside the group: objects, modalities, times, speed."""
    inside = np.zeros(pairs.shares.n_accounts, dtype=bool)
    inside[group.account_codes] = True
    index = np.flatnonzero(inside[pairs.account_x] & inside[pairs.account_y])
    if index.size == 0:
        return group
    table = pairs.shares
    times = np.concatenate(
        [table.timestamp[pairs.row_x[index]], table.timestamp[pairs.row_y[index]]]
    )
    objects = table.object_code[pairs.row_x[index]]
    first_share = (
        profile.t_min
        + profile.keys[np.searchsorted(profile.keys, objects * profile.stride)] % profile.stride
    )
    delays = table.timestamp[pairs.row_y[index]] - first_share
    kinds = np.unique(pairs.modality[index])
    return _replace(
        group,
        pair_index=index,
        object_codes=np.unique(objects),
        modalities=tuple(table.modality_names[m] for m in kinds.tolist()),
        first_share=int(times.min()),
        last_share=int(times.max()),
        median_time_delta=float(np.median(pairs.time_delta[index])),
        median_delay=float(np.median(delays)),
    )


def _replace(group: CandidateGroup, **changes: object) -> CandidateGroup:
    import dataclasses

    return dataclasses.replace(group, **changes)  # type: ignore[arg-type]


def find_candidate_groups(
    pairs: CoSharePairs, settings: GroupSettings | None = None
) -> tuple[list[CandidateGroup], list[str]]:
    """Flagged groups (strongest first), then up to ``MAX_UNFLAGGED`` candidates that were not."""
    options = settings or GroupSettings()
    if len(pairs) == 0:
        return [], []
    judgement = judge(pairs, options)
    flagged = [
        _group_of(pairs, judgement, judgement.final, g, judgement.stats, True)
        for g in np.unique(judgement.final[judgement.final >= 0]).tolist()
    ]
    accepted = set(np.unique(judgement.candidates[judgement.final >= 0]).tolist())
    rest = [
        g
        for g in np.unique(judgement.candidates[judgement.candidates >= 0]).tolist()
        if g not in accepted
    ]
    rest.sort(key=lambda g: judgement.candidate_stats.p_value[g])
    unflagged = [
        _group_of(pairs, judgement, judgement.candidates, g, judgement.candidate_stats, False)
        for g in rest[:MAX_UNFLAGGED]
    ]
    groups = [_with_pairs(pairs, g, judgement.profile) for g in flagged]
    groups.sort(key=lambda g: (g.p_value, -g.size))
    unflagged = [_with_pairs(pairs, g, judgement.profile) for g in unflagged]
    communities_tested = len(rest) + len(accepted)
    notes = [
        f"significance: {judgement.evidence.n_tested:,} accounts in "
        f"{communities_tested:,} candidate communities tested; each member held to "
        f"p <= {judgement.evidence.threshold:.1e}; {len(groups)} group(s) flagged"
        if communities_tested
        else "significance: no candidate community (no accounts co-shared two distinct "
        "objects within the window with the same others)"
    ]
    return [*groups, *unflagged], notes


def _modality_summary(pairs: CoSharePairs, group: CandidateGroup) -> str:
    table = pairs.shares
    objects = table.object_code[pairs.row_x[group.pair_index]]
    kinds = pairs.modality[group.pair_index]
    _, first = np.unique(objects, return_index=True)
    counts = np.bincount(kinds[first], minlength=len(table.modality_names))
    return ", ".join(
        f"{count} {table.modality_names[i]}" for i, count in enumerate(counts.tolist()) if count
    )


def _about(value: float) -> str:
    if value >= 10:
        return f"{value:,.0f}"
    if value >= 0.1:
        return f"{value:.1f}"
    return f"{value:.2g}"


def group_explanation(
    pairs: CoSharePairs,
    group: CandidateGroup,
    profiles: Mapping[int | str, AccountProfile] | None = None,
) -> str:
    """One paragraph a reader can check against the cited posts and the stored run."""
    first, last = format_day(group.first_share), format_day(group.last_share)
    span = f"on {first}" if first == last else f"between {first} and {last}"
    window = format_duration(pairs.time_window)
    activity = group.member_objects / np.maximum(group.member_activity, 1)
    text = (
        f"These {group.size} accounts co-shared {group.close_objects} distinct objects "
        f"({_modality_summary(pairs, group)}) within {window} of each other {span}: "
        f"{group.close_pairs:,} pairs of their shares fell within {window}. With these objects' "
        f"share times and popularity and what their other sharers did, chance would give about "
        f"{_about(group.expected_pairs)} such pairs (p <= {group.p_value:.1e} over the "
        f"{group.objects} objects two or more of them shared). "
        + (
            "Each member passed on its own: it was"
            if group.flagged
            else "Members on their own: each was"
        )
        + f" within {window} of {np.median(group.member_close):.0%} of the other members "
        f"sharing an object (median; chance: {np.median(group.member_expected):.0%}), p <= "
        f"{float(group.member_p.max()):.1e} at worst against a bar of {group.threshold:.1e} "
        f"for the {group.tested:,} accounts tested. Half of the co-shares came within "
        f"{format_duration(group.median_time_delta)} of each other and "
        f"{format_duration(max(group.median_delay, 0.0))} of the object's first share; "
        f"{np.median(activity):.0%} of a member's shares (median) went to objects it shared "
        f"with the group."
    )
    created = [profiles[a].created_at for a in group.accounts if profiles and a in profiles]
    burst = creation_burst([c for c in created if c is not None])
    if burst is not None:
        text += (
            f" {burst.count} of them were created between {format_day(burst.start)} and "
            f"{format_day(burst.end)}."
        )
    return text


MAX_DETAIL_EDGES = 5_000


def _group_edges(pairs: CoSharePairs, group: CandidateGroup) -> list[list[object]]:
    """``[account, account, co-shares]`` inside the group (what the report draws)."""
    if group.pair_index.size == 0:
        return []
    table = pairs.shares
    x, y = pairs.account_x[group.pair_index], pairs.account_y[group.pair_index]
    low, high = np.minimum(x, y).astype(np.int64), np.maximum(x, y).astype(np.int64)
    edges, counts = np.unique(np.stack([low, high], axis=1), axis=0, return_counts=True)
    heaviest = np.argsort(-counts, kind="stable")[:MAX_DETAIL_EDGES]
    a = table.account_labels_of(edges[heaviest, 0])
    b = table.account_labels_of(edges[heaviest, 1])
    return edges_to_details(
        GroupEdge(_plain(u), _plain(v), int(w))
        for u, v, w in zip(a, b, counts[heaviest], strict=True)
    )


def group_details(pairs: CoSharePairs, group: CandidateGroup, rank: int) -> dict[str, object]:
    """The finding's numbers, as stored with it and in the run."""
    table = pairs.shares
    return {
        "edges": _group_edges(pairs, group),
        **(
            {}
            if all(isinstance(a, int) for a in group.accounts)
            else {"account_ids": list(group.accounts)}
        ),
        "group": rank,
        "flagged": group.flagged,
        "size": group.size,
        "modalities": list(group.modalities),
        "objects": [_plain(v) for v in table.object_labels_of(group.object_codes)],
        "co_shares": int(group.pair_index.size),
        "close_objects": group.close_objects,
        "close_pairs": group.close_pairs,
        "expected_pairs": round(group.expected_pairs, 4),
        "p_value": group.p_value,
        "threshold": group.threshold,
        "accounts_tested": group.tested,
        "first_share": _iso(group.first_share),
        "last_share": _iso(group.last_share),
        "median_time_delta": group.median_time_delta,
        "median_delay": group.median_delay,
        "time_window": pairs.time_window,
        "members": [
            {
                "account": _plain(account),
                "objects": int(group.member_objects[i]),
                "close_share": round(float(group.member_close[i]), 4),
                "expected_share": round(float(group.member_expected[i]), 4),
                "p_value": float(group.member_p[i]),
                "shares": int(group.member_activity[i]),
            }
            for i, account in enumerate(group.accounts)
        ],
    }


def group_findings(
    pairs: CoSharePairs,
    groups: list[CandidateGroup],
    profiles: Mapping[int | str, AccountProfile] | None = None,
) -> list[FindingDraft]:
    """One ``coordinated_group`` finding per flagged group (candidates not flagged make none).

    Evidence ids are the account and content ids of the share table (store primary keys
    when the table came from the store); posts are capped at ``MAX_EVIDENCE_POSTS``.
    """
    findings = []
    table = pairs.shares
    for rank, group in enumerate((g for g in groups if g.flagged), start=1):
        contents = np.unique(
            np.concatenate(
                [
                    table.content_code[pairs.row_x[group.pair_index]],
                    table.content_code[pairs.row_y[group.pair_index]],
                ]
            )
        )
        posts = tuple(_plain(v) for v in table.content_labels_of(contents[:MAX_EVIDENCE_POSTS]))
        details = group_details(pairs, group, rank)
        details["posts_total"] = int(contents.size)
        findings.append(
            FindingDraft(
                kind=FINDING_KIND,
                score=round(max(group.score, 0.5), 4),
                title=f"Coordinated group #{rank}: {group.size} accounts co-sharing "
                f"{group.close_objects} objects",
                explanation=group_explanation(pairs, group, profiles),
                accounts=tuple(int(a) for a in group.accounts if isinstance(a, int)),
                posts=tuple(int(p) for p in posts if isinstance(p, int)),
                details=details,
            )
        )
    return findings


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
