"""Coordination analysis of a case: co-shares, networks, groups, significance, findings.

Loads the case's content-key index, runs CooRTweet-compatible co-share detection per modality
(``analyzers.coordination``), builds the combined network, finds candidate groups and judges
them against the null model (``analyzers.coordination_groups``), stores the run (parameters,
pairs, network, every candidate group; ``osint.analysis.runs``) and one finding per flagged
group, replacing the previous coordination findings of the case.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from osint.analysis import replace_findings, runs
from osint.analysis.precision import window_notes
from osint.analysis.shares import load_share_table
from osint.analyzers.coordination import (
    DEFAULT_MAX_PAIRS,
    DEFAULT_MAX_PAIRS_PER_OBJECT,
    CoordinationInputError,
    CoordinationNetwork,
    CoSharePairs,
    check_parameters,
    describe_caps,
    detect_groups,
    generate_coordinated_network,
)
from osint.analyzers.coordination_groups import (
    CandidateGroup,
    GroupSettings,
    find_candidate_groups,
    group_details,
    group_explanation,
    group_findings,
)
from osint.analyzers.findings import FindingDraft
from osint.analyzers.share_table import ShareTable
from osint.analyzers.timeline import AccountProfile
from osint.cases import get_case
from osint.errors import InputError
from osint.progress import Progress
from osint.storage.db import Store
from osint.storage.models import Account, Post, SharedObject
from osint.storage.queries import select_in

ANALYSIS = "coordination"
MAX_LISTED_OBJECTS = 200  # objects named in a finding's details; the posts are all cited


@dataclass(frozen=True)
class CoordinationOptions:
    """CooRTweet's three parameters (our defaults: 5 minutes, 2, median) and our own beside
    them. Five minutes because slow campaigns post up to 4 minutes apart; what chance gives
    within that window is the significance model's business (``groups``)."""

    window: float = 300
    min_participation: int = 2
    edge_weight: float = 0.5
    remove_loops: bool = True
    # An account's shares are counted across modalities (one URL and one hashtag make two);
    # False counts them per modality, as CooRTweet run once per modality does.
    participation_across_modalities: bool = True
    modalities: tuple[str, ...] | None = None
    max_pairs_per_object: int = DEFAULT_MAX_PAIRS_PER_OBJECT
    max_pairs: int = DEFAULT_MAX_PAIRS
    groups: GroupSettings = field(default_factory=GroupSettings)


@dataclass
class CoordinationResult:
    """Everything one run computed, for the summary and the exports."""

    pairs: CoSharePairs
    network: CoordinationNetwork
    networks_by_modality: dict[str, CoordinationNetwork]
    groups: list[Any]  # CandidateGroup, or runs.StoredGroup when read back from a run
    notes: list[str]
    run_id: int | None = None


@dataclass
class GroupSummary:
    rank: int
    size: int
    score: float
    objects: int
    co_shares: int
    modalities: list[str]
    handles: list[str]
    amplified: list[str] = field(default_factory=list)  # authors of the reposted/quoted posts


@dataclass
class CoordinationReport:
    case: str
    shares: int
    pairs: int
    accounts: int
    edges: int
    strong_edges: int
    findings: int
    groups: list[GroupSummary]
    by_modality: dict[str, tuple[int, int]]
    warnings: list[str]
    seconds: float
    run_id: int | None = None
    candidates: list[GroupSummary] = field(default_factory=list)  # not flagged
    message: str | None = None  # why nothing was analysed (an empty case)


def compute_coordination(
    session: Session, case_id: int, options: CoordinationOptions
) -> CoordinationResult:
    """Detection, networks and groups of one case (read-only)."""
    try:
        check_parameters(options.window, options.min_participation, options.edge_weight)
    except CoordinationInputError as error:
        raise InputError(str(error)) from error
    precision_notes = window_notes(session, case_id, options.window)
    table = load_share_table(session, case_id, options.modalities)
    if len(table) == 0:
        raise NothingToAnalyse(
            "this case has no shares to analyse: import shares ('osint import shares FILE "
            "--case C') or collect accounts first"
        )
    try:
        pairs = detect_groups(
            table,
            options.window,
            options.min_participation,
            remove_loops=options.remove_loops,
            by_modality=not options.participation_across_modalities,
            max_pairs_per_object=options.max_pairs_per_object,
            max_pairs=options.max_pairs,
        )
        network = generate_coordinated_network(pairs, options.edge_weight)
        by_modality = {
            name: generate_coordinated_network(pairs, options.edge_weight, modality=name)
            for name in table.modality_names
        }
        groups, notes = find_candidate_groups(pairs, options.groups)
    except CoordinationInputError as error:
        raise InputError(str(error)) from error
    caps = describe_caps(
        pairs.capped, _object_namer(session, [c.object_code for c in pairs.capped], table)
    )
    return CoordinationResult(
        pairs, network, by_modality, groups, [*caps, *notes, *precision_notes]
    )


class NothingToAnalyse(Exception):
    """An empty case: no shares in any modality. Not an error: nothing to find."""


def check_options(options: CoordinationOptions) -> None:
    """One clear ``InputError`` for a window, participation or quantile out of range."""
    try:
        check_parameters(options.window, options.min_participation, options.edge_weight)
    except CoordinationInputError as error:
        raise InputError(str(error)) from error


def options_from_record(record: dict[str, Any]) -> CoordinationOptions:
    """The options a run was stored with (``options_record`` read back)."""
    known = {f.name for f in dataclasses.fields(CoordinationOptions)}
    values = {k: v for k, v in record.items() if k in known}
    group_fields = {f.name for f in dataclasses.fields(GroupSettings)}
    values["groups"] = GroupSettings(
        **{k: v for k, v in (record.get("groups") or {}).items() if k in group_fields}
    )
    if values.get("modalities"):
        values["modalities"] = tuple(values["modalities"])
    return CoordinationOptions(**values)


def options_record(options: CoordinationOptions) -> dict[str, Any]:
    """The parameters as stored with the run (and compared by exports)."""
    return dataclasses.asdict(options) | {
        "modalities": list(options.modalities) if options.modalities else None
    }


def _object_namer(session: Session, codes: list[int], table: ShareTable) -> Callable[[int], str]:
    """``code -> "modality key"`` for the named objects (store keys, not row ids)."""
    ids = [int(v) for v in table.object_labels_of(np.array(codes, dtype=np.int64))]
    names: dict[int, str] = {}
    rows = select_in(
        session,
        lambda batch: select(SharedObject.id, SharedObject.modality, SharedObject.key).where(
            SharedObject.id.in_(batch)
        ),
        ids,
    )
    names = {int(i): f"{modality} {key!r}" for i, modality, key in rows}

    def name_of(code: int) -> str:
        label = int(table.object_labels_of(np.array([code]))[0])
        return names.get(label) or table.object_names.get(label, str(label))

    return name_of


def load_profiles(session: Session, account_ids: list[int]) -> dict[int | str, AccountProfile]:
    """Handle and platform creation date of the given accounts."""
    profiles: dict[int | str, AccountProfile] = {}
    rows = select_in(
        session,
        lambda batch: select(
            Account.id, Account.handle, Account.platform_id, Account.created_at_platform
        ).where(Account.id.in_(batch)),
        account_ids,
    )
    for account_id, handle, platform_id, created in rows:
        created_at = int(created.timestamp()) if created is not None else None
        profiles[account_id] = AccountProfile(account_id, handle or platform_id, created_at)
    return profiles


def _objects_as_keys(
    session: Session, drafts: list[FindingDraft], names: dict[Any, str]
) -> list[FindingDraft]:
    """Name each group's objects by their keys (URL, hashtag, reposted id ...), not row ids."""
    listed = [[int(o) for o in d.details.get("objects", [])[:MAX_LISTED_OBJECTS]] for d in drafts]
    wanted = sorted({o for objects in listed for o in objects})
    keys: dict[int, str] = {}
    rows = select_in(
        session,
        lambda batch: select(SharedObject.id, SharedObject.key).where(SharedObject.id.in_(batch)),
        wanted,
    )
    keys.update((int(object_id), key) for object_id, key in rows)
    return [
        dataclasses.replace(
            d,
            details={
                **d.details,
                "objects": [keys.get(o) or names.get(o, str(o)) for o in objects],
            },
        )
        for d, objects in zip(drafts, listed, strict=True)
    ]


AMPLIFIED_MODALITIES = ("repost", "quote")


def _amplified(
    session: Session, case_id: int, table: ShareTable, groups: list[CandidateGroup]
) -> list[list[dict[str, Any]]]:
    """Per group, whose posts it amplified: the authors of the reposted and quoted posts among
    its objects (as far as the case holds those posts), most amplified first."""
    labels = [
        {int(v) for v in table.object_labels_of(g.object_codes) if isinstance(v, int | np.integer)}
        for g in groups
    ]
    wanted = sorted(set().union(*labels)) if labels else []
    targets: dict[int, tuple[str, str]] = {}  # object id -> (platform, post id)
    rows = select_in(
        session,
        lambda batch: select(SharedObject.id, SharedObject.key).where(
            SharedObject.id.in_(batch), SharedObject.modality.in_(AMPLIFIED_MODALITIES)
        ),
        wanted,
    )
    for object_id, key in rows:
        platform, _, post_id = key.partition(":")
        if post_id:
            targets[int(object_id)] = (platform, post_id)
    authors: dict[tuple[str, str], tuple[int, str]] = {}
    by_platform: dict[str, list[str]] = {}
    for platform, post_id in targets.values():
        by_platform.setdefault(platform, []).append(post_id)
    for platform, post_ids in by_platform.items():
        found = select_in(
            session, functools.partial(_authors_of, case_id, platform), sorted(set(post_ids))
        )
        for post_id, account_id, handle, account_platform_id in found:
            authors[(platform, post_id)] = (account_id, handle or account_platform_id)
    result = []
    for objects in labels:
        counts = Counter(
            author
            for object_id in objects
            if (author := authors.get(targets.get(object_id, ("", "")))) is not None
        )
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0][1]))
        result.append([{"account": a, "handle": h, "objects": n} for (a, h), n in ranked[:10]])
    return result


def _authors_of(
    case_id: int, platform: str, post_ids: Sequence[str]
) -> Select[str, int, str | None, str]:
    """The authors (account id, handle, platform id) of these posts of the case."""
    return (
        select(Post.platform_id, Account.id, Account.handle, Account.platform_id)
        .join(Account, Account.id == Post.account_id)
        .where(Post.case_id == case_id, Post.platform == platform, Post.platform_id.in_(post_ids))
    )


def amplified_sentence(amplified: list[dict[str, Any]]) -> str:
    """The sentence a finding ends with: whose posts the group reposted or quoted together."""
    if not amplified:
        return ""
    named = [
        f"@{a['handle']} ({a['objects']} object{'s' if a['objects'] != 1 else ''})"
        for a in amplified[:5]
    ]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return f" The posts they reposted or quoted together are by {listed}."


def _summaries(
    groups: list[CandidateGroup],
    profiles: dict[int | str, AccountProfile],
    amplified: list[list[dict[str, Any]]],
) -> list[GroupSummary]:
    return [
        GroupSummary(
            rank=rank + 1,
            size=group.size,
            score=group.score,
            objects=int(group.close_objects),
            co_shares=int(group.pair_index.size),
            modalities=list(group.modalities),
            handles=[profiles[a].handle for a in group.accounts[:5] if a in profiles],
            amplified=[str(a["handle"]) for a in amp],
        )
        for rank, (group, amp) in enumerate(zip(groups, amplified, strict=True))
    ]


def _run_groups(
    result: CoordinationResult,
    profiles: dict[int | str, AccountProfile],
    finding_ids: list[int],
    drafts: list[FindingDraft],
    amplified: list[list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Rows of every candidate group of the run: flagged ones point at their finding."""
    rows, flagged_rank, other_rank = [], 0, 0
    for group, amp in zip(result.groups, amplified, strict=True):
        if group.flagged:
            flagged_rank += 1
            draft = drafts[flagged_rank - 1]
            rows.append(
                {"rank": flagged_rank, "flagged": True, "size": group.size,
                 "p_value": group.p_value, "finding_id": finding_ids[flagged_rank - 1],
                 "title": draft.title, "explanation": draft.explanation, "details": draft.details}
            )  # fmt: skip
            continue
        other_rank += 1
        details = group_details(result.pairs, group, other_rank) | {"amplified": amp}
        rows.append(
            {"rank": 10_000 + other_rank, "flagged": False, "size": group.size,
             "p_value": group.p_value, "finding_id": None,
             "title": f"Candidate group (not flagged): {group.size} accounts",
             "explanation": "Not flagged: " + group_explanation(result.pairs, group, profiles)
             + amplified_sentence(amp),
             "details": details}
        )  # fmt: skip
    return rows


def _empty_report(case_name: str, message: str, run_id: int, started: float) -> CoordinationReport:
    return CoordinationReport(
        case=case_name, shares=0, pairs=0, accounts=0, edges=0, strong_edges=0, findings=0,
        groups=[], by_modality={}, warnings=[], seconds=time.perf_counter() - started,
        run_id=run_id, message=message,
    )  # fmt: skip


def analyze_coordination(
    store: Store,
    case_name: str,
    options: CoordinationOptions | None = None,
    progress: Progress | None = None,
) -> CoordinationReport:
    """Run the coordination analysis of a case, store the run and its findings."""
    settings = options or CoordinationOptions()
    started = time.perf_counter()
    check_options(settings)
    with store.session() as session:
        case = get_case(session, case_name)
        run = runs.start_run(session, case.id, options_record(settings))
        try:
            result = compute_coordination(session, case.id, settings)
        except NothingToAnalyse as empty:
            replace_findings(session, case.id, ANALYSIS, [])
            run.summary = {"message": str(empty), "shares": 0, "pairs": 0, "groups": 0}
            runs.finish_run(session, run)
            return _empty_report(case_name, str(empty), run.id, started)
        result.run_id = run.id
        members = sorted({int(a) for g in result.groups for a in g.accounts if isinstance(a, int)})
        profiles = load_profiles(session, members)
        amplified = _amplified(session, case.id, result.pairs.shares, result.groups)
        flagged_amplified = [a for g, a in zip(result.groups, amplified, strict=True) if g.flagged]
        drafts = group_findings(result.pairs, result.groups, profiles)
        drafts = _objects_as_keys(session, drafts, result.pairs.shares.object_names)
        drafts = [
            dataclasses.replace(
                d,
                explanation=d.explanation + amplified_sentence(amp),
                details={**d.details, "run": run.id, "amplified": amp},
            )
            for d, amp in zip(drafts, flagged_amplified, strict=True)
        ]
        finding_ids = replace_findings(session, case.id, ANALYSIS, drafts)
        by_score = sorted(range(len(drafts)), key=lambda i: -drafts[i].score)
        ids_in_order = [0] * len(drafts)
        for position, index in enumerate(by_score):
            ids_in_order[index] = finding_ids[position]
        runs.save_groups(
            session, run, _run_groups(result, profiles, ids_in_order, drafts, amplified)
        )
        network = result.network
        summary = {
            "shares": len(result.pairs.shares), "pairs": len(result.pairs),
            "accounts": int(network.accounts().size), "edges": network.n_edges,
            "strong_edges": int(np.count_nonzero(network.weight_threshold)),
            "groups": len(drafts), "candidates": len(result.groups) - len(drafts),
            "notes": result.notes,
            "by_modality": {
                name: [int(net.weight.sum()), net.n_edges]
                for name, net in result.networks_by_modality.items()
            },
        }  # fmt: skip
        runs.save_results(session, run, result.pairs, network, summary)
        runs.finish_run(session, run)
        runs.forget_older_runs(session, case.id)
        if progress:
            for note in result.notes:
                progress.log(note)
    flagged = [g for g in result.groups if g.flagged]
    others = [a for g, a in zip(result.groups, amplified, strict=True) if not g.flagged]
    return CoordinationReport(
        case=case_name,
        shares=len(result.pairs.shares),
        pairs=len(result.pairs),
        accounts=int(network.accounts().size),
        edges=network.n_edges,
        strong_edges=int(np.count_nonzero(network.weight_threshold)),
        findings=len(drafts),
        groups=_summaries(flagged, profiles, flagged_amplified),
        by_modality={
            name: (int(net.weight.sum()), net.n_edges)
            for name, net in result.networks_by_modality.items()
        },
        warnings=result.notes,
        seconds=time.perf_counter() - started,
        run_id=run.id,
        candidates=_summaries([g for g in result.groups if not g.flagged], profiles, others),
    )
