"""Candidate coordinated groups: communities of the co-share network, scored and explained.

CooRTweet stops at the network; an investigator needs groups. Here the combined network
(all modalities) is reduced to its repeated co-shares (edges above CooRTweet's quantile
threshold and at least ``min_edge_weight``), split into Louvain communities, and each
community is scored by how tightly it co-shares: the share of its member pairs that are
linked (internal degree) times how often they co-share (weight). A chance cluster of heavy
organic sharers is sparse and light; a planted group is dense and heavy.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import networkx as nx
import numpy as np

from osint.analyzers.coordination import CoordinationNetwork, CoSharePairs, InvalidParameterError
from osint.analyzers.findings import FindingDraft
from osint.analyzers.timeline import AccountProfile, creation_burst, format_day, format_duration

logger = logging.getLogger(__name__)

FINDING_KIND = "coordinated_group"
MAX_EVIDENCE_POSTS = 500


@dataclass(frozen=True)
class GroupSettings:
    """Own options beside CooRTweet's: what makes a community a flagged group."""

    min_edge_weight: int = 2
    min_group_size: int = 3
    min_member_degree: float = 0.15
    flag_score: float = 0.5
    resolution: float = 1.0
    seed: int = 42
    max_community_edges: int = 1_000_000

    def __post_init__(self) -> None:
        if self.min_group_size < 2 or self.min_edge_weight < 1:
            raise InvalidParameterError("min_group_size must be >= 2 and min_edge_weight >= 1")
        if not 0.0 <= self.min_member_degree <= 1.0 or not 0.0 <= self.flag_score <= 1.0:
            raise InvalidParameterError("min_member_degree and flag_score are fractions in [0, 1]")


@dataclass(frozen=True)
class CandidateGroup:
    """One community: its accounts (ids as in the share table) and the co-shares behind it."""

    accounts: tuple[int | str, ...]
    account_codes: np.ndarray
    pair_index: np.ndarray
    modalities: tuple[str, ...]
    object_codes: np.ndarray
    first_share: int
    last_share: int
    median_time_delta: float
    density: float
    mean_weight: float
    score: float

    @property
    def size(self) -> int:
        return len(self.accounts)

    @property
    def flagged(self) -> bool:
        return self.score >= 0.5


def _candidate_graph(
    network: CoordinationNetwork, settings: GroupSettings
) -> tuple[nx.Graph, list[str]]:
    weight = network.weight
    keep = weight >= settings.min_edge_weight
    if not math.isnan(network.threshold):
        keep &= weight > network.threshold
    notes = []
    kept = np.flatnonzero(keep)
    if kept.size > settings.max_community_edges:
        kept = kept[np.argsort(-weight[kept], kind="stable")[: settings.max_community_edges]]
        notes.append(
            f"community detection kept the {settings.max_community_edges:,} heaviest of "
            f"{int(keep.sum()):,} repeated co-share edges (raise max_community_edges for more)"
        )
    graph = nx.Graph()
    graph.add_weighted_edges_from(
        zip(
            network.account_a[kept].tolist(),
            network.account_b[kept].tolist(),
            weight[kept].tolist(),
            strict=True,
        )
    )
    return graph, notes


def _core_members(graph: nx.Graph, members: set[int], min_fraction: float) -> set[int]:
    """Drop members linked to fewer than ``min_fraction`` of the others (and to fewer than
    two), until stable: an account that met one member by chance does not join the group."""
    core = set(members)
    while len(core) > 2:
        needed = max(2.0, min_fraction * (len(core) - 1))
        weak = {m for m in core if sum(1 for n in graph.neighbors(m) if n in core) < needed}
        if not weak:
            break
        core -= weak
    return core


def group_score(size: int, weights: list[float]) -> float:
    """How unlike chance a community's co-sharing is, in [0, 1].

    Two terms, multiplied. Internal degree: with how many other members the average member
    repeatedly co-shares (``2 * edges / size``); chance links among organic accounts form
    sparse trees (degree ~1-2), a coordinated group links most of its members (a dozen or
    more). Weight: how often a linked pair co-shares; 0 at once, ~0.6 at twice, ~1 from five.
    """
    if size < 2 or not weights:
        return 0.0
    internal_degree = 2.0 * len(weights) / size
    mean_weight = sum(weights) / len(weights)
    degree_term = 1.0 - math.exp(-max(internal_degree - 1.0, 0.0) / 2.5)
    weight_term = 1.0 - math.exp(-max(mean_weight - 1.0, 0.0) / 1.2)
    return float(degree_term * weight_term)


def find_candidate_groups(
    pairs: CoSharePairs, network: CoordinationNetwork, settings: GroupSettings | None = None
) -> tuple[list[CandidateGroup], list[str]]:
    """Louvain communities of the repeated co-share graph, scored; strongest first."""
    options = settings or GroupSettings()
    graph, notes = _candidate_graph(network, options)
    if graph.number_of_edges() == 0:
        return [], notes
    communities = nx.community.louvain_communities(
        graph, weight="weight", resolution=options.resolution, seed=options.seed
    )
    membership = np.full(pairs.shares.n_accounts, -1, dtype=np.int64)
    cores: list[set[int]] = []
    for community in communities:
        core = _core_members(graph, set(community), options.min_member_degree)
        if len(core) >= options.min_group_size:
            membership[list(core)] = len(cores)
            cores.append(core)
    if not cores:
        return [], notes
    group_x, group_y = membership[pairs.account_x], membership[pairs.account_y]
    inside = np.flatnonzero((group_x == group_y) & (group_x >= 0))
    by_group = np.argsort(group_x[inside], kind="stable")
    bounds = np.searchsorted(group_x[inside][by_group], np.arange(len(cores) + 1))
    groups = [
        _describe_group(pairs, graph, core, inside[by_group[bounds[g] : bounds[g + 1]]])
        for g, core in enumerate(cores)
    ]
    groups.sort(key=lambda group: (-group.score, -group.size))
    return groups, notes


def _describe_group(
    pairs: CoSharePairs, graph: nx.Graph, core: set[int], pair_index: np.ndarray
) -> CandidateGroup:
    codes = np.array(sorted(core), dtype=np.int64)
    subgraph = graph.subgraph(core)
    possible = len(core) * (len(core) - 1) / 2
    weights = [data["weight"] for _, _, data in subgraph.edges(data=True)]
    density = subgraph.number_of_edges() / possible if possible else 0.0
    mean_weight = float(np.mean(weights)) if weights else 0.0
    table = pairs.shares
    times = np.concatenate(
        [table.timestamp[pairs.row_x[pair_index]], table.timestamp[pairs.row_y[pair_index]]]
    )
    modality_codes = (
        np.unique(pairs.modality[pair_index]) if pair_index.size else np.empty(0, np.int8)
    )
    return CandidateGroup(
        accounts=tuple(_plain(v) for v in table.account_labels_of(codes)),
        account_codes=codes,
        pair_index=pair_index,
        modalities=tuple(table.modality_names[m] for m in modality_codes.tolist()),
        object_codes=np.unique(table.object_code[pairs.row_x[pair_index]]),
        first_share=int(times.min()) if times.size else 0,
        last_share=int(times.max()) if times.size else 0,
        median_time_delta=float(np.median(pairs.time_delta[pair_index]))
        if pair_index.size
        else 0.0,
        density=density,
        mean_weight=mean_weight,
        score=group_score(len(core), weights),
    )


def _plain(value: object) -> int | str:
    item = value.item() if isinstance(value, np.generic) else value
    return item if isinstance(item, int | str) else str(item)


def _modality_summary(pairs: CoSharePairs, group: CandidateGroup) -> str:
    table = pairs.shares
    parts = []
    modality_of_object = dict(
        zip(
            table.object_code[pairs.row_x[group.pair_index]].tolist(),
            pairs.modality[group.pair_index].tolist(),
            strict=True,
        )
    )
    counts = np.bincount(
        np.array(list(modality_of_object.values()), dtype=np.int64),
        minlength=len(table.modality_names),
    )
    for index, count in enumerate(counts.tolist()):
        if count:
            parts.append(f"{count} {table.modality_names[index]}")
    return ", ".join(parts)


def group_explanation(
    pairs: CoSharePairs,
    group: CandidateGroup,
    profiles: Mapping[int | str, AccountProfile] | None = None,
) -> str:
    """One paragraph a reader can check against the cited posts."""
    n_objects = int(group.object_codes.size)
    span = (
        f"on {format_day(group.first_share)}"
        if format_day(group.first_share) == format_day(group.last_share)
        else f"between {format_day(group.first_share)} and {format_day(group.last_share)}"
    )
    text = (
        f"{group.size} accounts shared the same {n_objects} object{'s' if n_objects != 1 else ''} "
        f"({_modality_summary(pairs, group)}) within {format_duration(pairs.time_window)} of each "
        f"other {span}: {group.pair_index.size:,} co-shares, half of them less than "
        f"{format_duration(group.median_time_delta)} apart. {group.density:.0%} of the member pairs "
        f"co-shared repeatedly, {group.mean_weight:.1f} times on average."
    )
    created = [profiles[a].created_at for a in group.accounts if profiles and a in profiles]
    burst = creation_burst([c for c in created if c is not None])
    if burst is not None:
        text += (
            f" {burst.count} of them were created between {format_day(burst.start)} and "
            f"{format_day(burst.end)}."
        )
    return text


def group_findings(
    pairs: CoSharePairs,
    groups: list[CandidateGroup],
    profiles: Mapping[int | str, AccountProfile] | None = None,
    *,
    flag_score: float = 0.5,
) -> list[FindingDraft]:
    """One ``coordinated_group`` finding per group scoring at least ``flag_score``.

    Evidence ids are the account and content ids of the share table (store primary keys
    when the table came from the store); posts are capped at ``MAX_EVIDENCE_POSTS``.
    """
    findings = []
    table = pairs.shares
    for rank, group in enumerate(g for g in groups if g.score >= flag_score):
        contents = np.unique(
            np.concatenate(
                [
                    table.content_code[pairs.row_x[group.pair_index]],
                    table.content_code[pairs.row_y[group.pair_index]],
                ]
            )
        )
        posts = tuple(_plain(v) for v in table.content_labels_of(contents[:MAX_EVIDENCE_POSTS]))
        findings.append(
            FindingDraft(
                kind=FINDING_KIND,
                score=round(group.score, 4),
                title=f"Coordinated group #{rank + 1}: {group.size} accounts co-sharing {group.object_codes.size} objects",
                explanation=group_explanation(pairs, group, profiles),
                accounts=tuple(int(a) for a in group.accounts if isinstance(a, int)),
                posts=tuple(int(p) for p in posts if isinstance(p, int)),
                details={
                    **(
                        {}
                        if all(isinstance(a, int) for a in group.accounts)
                        else {"account_ids": list(group.accounts)}
                    ),
                    "group": rank + 1,
                    "size": group.size,
                    "modalities": list(group.modalities),
                    "objects": [_plain(v) for v in table.object_labels_of(group.object_codes)],
                    "co_shares": int(group.pair_index.size),
                    "first_share": _iso(group.first_share),
                    "last_share": _iso(group.last_share),
                    "median_time_delta": group.median_time_delta,
                    "density": round(group.density, 4),
                    "mean_weight": round(group.mean_weight, 3),
                    "time_window": pairs.time_window,
                    "posts_total": int(contents.size),
                },
            )
        )
    return findings


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
