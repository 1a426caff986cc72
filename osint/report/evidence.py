"""The analytic side of the report: findings with their evidence, image clusters, the network.

Findings come from any analyzer (``storage.models.Finding`` with ``FindingEvidence`` rows); image
clusters from ``ImageClusterMember``; the coordination network from the accounts and, when the
analyzer gave them, the edges (``details["edges"]``) of ``coordinated_*`` findings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import networkx as nx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from osint.analyzers.findings import GroupEdge, edges_from_details
from osint.report.data import PostView, load_account_labels, load_posts_by_id
from osint.report.thumbs import Thumbnailer
from osint.storage.models import (
    Account,
    AccountSnapshot,
    Finding,
    FindingEvidence,
    ImageClusterMember,
    ImageHash,
    Media,
    Post,
    PostMedia,
)
from osint.storage.queries import chunks, select_in

MAX_DETAIL_CHARS = 400
MAX_CLIQUE = 40  # a group without explicit edges is drawn as a clique up to this size, else a star


@dataclass
class MediaView:
    id: int
    sha256: str
    mime: str | None
    size: int
    width: int | None
    height: int | None
    status: str
    thumb: str | None = None
    role: str | None = None


@dataclass
class AccountRef:
    id: int
    label: str
    role: str | None = None


@dataclass
class FindingView:
    id: int
    analysis: str
    kind: str
    score: float
    title: str
    explanation: str
    created_at: datetime
    details: list[tuple[str, str]]
    accounts: list[AccountRef] = field(default_factory=list)
    posts: list[PostView] = field(default_factory=list)
    media: list[MediaView] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)  # evidence counts before the cap


def _detail_items(details: dict[str, Any]) -> list[tuple[str, str]]:
    items = []
    for key, value in sorted(details.items()):
        if isinstance(value, list | dict) and len(value) > 20:
            text = f"{len(value):,} items (all in the bundle's findings.jsonl)"
        else:
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            if len(text) > MAX_DETAIL_CHARS:
                text = text[: MAX_DETAIL_CHARS - 1] + "…"
        items.append((str(key), text))
    return items


def load_media(session: Session, ids: Iterable[int], thumbs: Thumbnailer) -> dict[int, MediaView]:
    found: dict[int, MediaView] = {}
    for chunk in chunks(sorted(set(ids))):
        for media in session.execute(select(Media).where(Media.id.in_(chunk))).scalars():
            found[media.id] = MediaView(
                id=media.id,
                sha256=media.sha256,
                mime=media.mime,
                size=media.size,
                width=media.width,
                height=media.height,
                status=media.status,
                thumb=thumbs.data_uri(media.sha256, media.size) if media.status == "ok" else None,
            )
    return found


def load_findings(
    session: Session, case_id: int, *, limit: int, per_finding: int, thumbs: Thumbnailer
) -> tuple[list[FindingView], int]:
    """The strongest ``limit`` findings with up to ``per_finding`` items of each evidence kind."""
    total = session.execute(
        select(func.count()).select_from(Finding).where(Finding.case_id == case_id)
    ).scalar_one()
    findings = (
        session.execute(
            select(Finding)
            .where(Finding.case_id == case_id)
            .order_by(Finding.score.desc(), Finding.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    views = {
        f.id: FindingView(
            id=f.id,
            analysis=f.analysis,
            kind=f.kind,
            score=f.score,
            title=f.title,
            explanation=f.explanation,
            created_at=f.created_at,
            details=_detail_items(dict(f.details or {})),
            totals={"accounts": 0, "posts": 0, "media": 0},
        )
        for f in findings
    }
    wanted: dict[str, dict[int, list[tuple[int, str | None]]]] = {
        "accounts": {},
        "posts": {},
        "media": {},
    }
    for chunk in chunks(list(views)):
        rows = session.execute(
            select(FindingEvidence)
            .where(FindingEvidence.finding_id.in_(chunk))
            .order_by(FindingEvidence.finding_id, FindingEvidence.id)
        ).scalars()
        for ev in rows:
            for kind, item_id in (
                ("accounts", ev.account_id),
                ("posts", ev.post_id),
                ("media", ev.media_id),
            ):
                if item_id is None:
                    continue
                views[ev.finding_id].totals[kind] += 1
                items = wanted[kind].setdefault(ev.finding_id, [])
                if len(items) < per_finding:
                    items.append((item_id, ev.role))
    _fill_evidence(session, views, wanted, thumbs)
    return list(views.values()), int(total)


def _fill_evidence(
    session: Session,
    views: dict[int, FindingView],
    wanted: dict[str, dict[int, list[tuple[int, str | None]]]],
    thumbs: Thumbnailer,
) -> None:
    def ids(kind: str) -> set[int]:
        return {i for items in wanted[kind].values() for i, _ in items}

    labels = load_account_labels(session, ids("accounts"))
    posts = load_posts_by_id(session, ids("posts"))
    media = load_media(session, ids("media"), thumbs)
    for finding_id, items in wanted["accounts"].items():
        views[finding_id].accounts = [
            AccountRef(i, labels.get(i, str(i)), role) for i, role in items
        ]
    for finding_id, items in wanted["posts"].items():
        views[finding_id].posts = [posts[i] for i, _ in items if i in posts]
    for finding_id, items in wanted["media"].items():
        found = []
        for i, role in items:
            if i in media:
                view = MediaView(**{**media[i].__dict__, "role": role})
                found.append(view)
        views[finding_id].media = found


@dataclass(frozen=True)
class MatchedRegion:
    """Where local features found the cluster's picture in one image, in that image's pixels.

    ``points`` is an SVG polygon ("x,y x,y ..."), drawn over the thumbnail in a viewBox of the
    image's own size.
    """

    width: int
    height: int
    points: str


@dataclass
class ClusterMemberView:
    media: MediaView
    distance: int | None
    transforms: list[Any]
    representative: bool
    hashes: list[tuple[str, str]]
    first_post: PostView | None
    posts: int
    posters: list[str]
    avatar_of: list[str] = field(default_factory=list)  # accounts showing it as their picture
    region: MatchedRegion | None = None  # local-feature match: the picture's outline in it


@dataclass
class ClusterView:
    cluster_no: int
    members: list[ClusterMemberView]
    first_post: PostView | None
    accounts: int


def load_clusters(
    session: Session, case_id: int, *, limit: int, thumbs: Thumbnailer
) -> tuple[list[ClusterView], int]:
    """The largest ``limit`` image clusters, each member with hashes, distance and first poster."""
    sizes = session.execute(
        select(ImageClusterMember.cluster_no, func.count())
        .where(ImageClusterMember.case_id == case_id)
        .group_by(ImageClusterMember.cluster_no)
    ).all()
    chosen = [no for no, _ in sorted(sizes, key=lambda s: (-s[1], s[0]))[:limit]]
    if not chosen:
        return [], len(sizes)
    members = (
        session.execute(
            select(ImageClusterMember)
            .where(
                ImageClusterMember.case_id == case_id,
                ImageClusterMember.cluster_no.in_(chosen),
            )
            .order_by(ImageClusterMember.cluster_no, ImageClusterMember.distance.nulls_first())
        )
        .scalars()
        .all()
    )
    media_ids = [m.media_id for m in members]
    media = load_media(session, media_ids, thumbs)
    hashes = _hashes(session, media_ids)
    uses = _media_uses(session, case_id, media_ids)
    avatars = _avatar_uses(session, case_id, media_ids)
    first_ids = {posts[0][0] for posts in uses.values() if posts}
    first_posts = load_posts_by_id(session, first_ids)
    regions = _local_regions(session, case_id, media)
    by_cluster: dict[int, ClusterView] = {
        no: ClusterView(no, [], None, 0) for no in sorted(chosen, key=chosen.index)
    }
    for member in members:
        used = uses.get(member.media_id, [])
        first = first_posts.get(used[0][0]) if used else None
        cluster = by_cluster[member.cluster_no]
        cluster.members.append(
            ClusterMemberView(
                media=media[member.media_id],
                distance=member.distance,
                transforms=list(member.transforms or []),
                representative=member.representative,
                hashes=hashes.get(member.media_id, []),
                first_post=first,
                posts=len(used),
                posters=sorted({label for _, label in used}),
                avatar_of=sorted({label for _, label in avatars.get(member.media_id, [])}),
                region=regions.get(member.media_id),
            )
        )
        if first and (
            cluster.first_post is None or first.created_at < cluster.first_post.created_at
        ):
            cluster.first_post = first
    for cluster in by_cluster.values():
        # every account that used a copy: in a post, or as its profile picture
        cluster.accounts = len(
            {p for m in cluster.members for p in m.posters}
            | {a for m in cluster.members for a in m.avatar_of}
        )
    return list(by_cluster.values()), len(sizes)


def _local_regions(
    session: Session, case_id: int, media: dict[int, MediaView]
) -> dict[int, MatchedRegion]:
    """Per media id, the matched region of a local-feature match stored in an image finding.

    The image findings' details list each cluster member with the evidence of its local match
    (``analyzers.localmatch.LocalMatch.evidence``); the region is the member's side of it.
    """
    found: dict[int, MatchedRegion] = {}
    details = session.execute(
        select(Finding.details).where(Finding.case_id == case_id, Finding.analysis == "images")
    ).scalars()
    for detail in details:
        for member in (detail or {}).get("members", []):
            media_id, match = member.get("media_id"), member.get("local_match")
            if media_id in media and isinstance(match, dict) and media_id not in found:
                region = _region(match, media_id, media[media_id])
                if region is not None:
                    found[media_id] = region
    return found


def _region(match: dict[str, Any], media_id: int, view: MediaView) -> MatchedRegion | None:
    side = "region_right" if match.get("right_media") == media_id else "region_left"
    if match.get("left_media") != media_id and match.get("right_media") != media_id:
        return None
    try:
        points = [(float(x), float(y)) for x, y in match.get(side) or []]
    except (TypeError, ValueError):
        return None
    if len(points) < 3 or not view.width or not view.height:
        return None
    if not all(math.isfinite(v) for point in points for v in point):
        return None
    return MatchedRegion(view.width, view.height, " ".join(f"{x:.1f},{y:.1f}" for x, y in points))


def _hashes(session: Session, media_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {}
    for chunk in chunks(sorted(set(media_ids))):
        for media_id, algorithm, value in session.execute(
            select(ImageHash.media_id, ImageHash.algorithm, ImageHash.value)
            .where(ImageHash.media_id.in_(chunk), ImageHash.variant == "orig")
            .order_by(ImageHash.algorithm)
        ):
            found.setdefault(media_id, []).append((algorithm, value))
    return found


Uses = dict[int, list[tuple[int, str]]]  # per media id: (post or account id, account label)


def _labelled_uses(session: Session, query_for: Any, media_ids: list[int]) -> Uses:
    """Per media id, (item id, its account's label) from the rows of ``query_for(batch)``:
    (media id, item id, account id, order), earliest order first."""
    rows: list[Any] = sorted(
        select_in(session, query_for, sorted(set(media_ids))), key=lambda r: (r[3], r[1])
    )
    labels = load_account_labels(session, (r[2] for r in rows))
    uses: Uses = {}
    for media_id, item_id, account_id, _ in rows:
        uses.setdefault(media_id, []).append((item_id, labels.get(account_id, str(account_id))))
    return uses


def _avatar_uses(session: Session, case_id: int, media_ids: list[int]) -> Uses:
    """Per media id, the case's accounts whose profile history shows it: (account id, label)."""
    account = AccountSnapshot.account_id  # the item, its account and its order (by id)
    return _labelled_uses(
        session,
        lambda chunk: (
            select(AccountSnapshot.avatar_media_id, account, account, account)
            .join(Account, Account.id == account)
            .where(Account.case_id == case_id, AccountSnapshot.avatar_media_id.in_(chunk))
            .distinct()
        ),
        media_ids,
    )


def _media_uses(session: Session, case_id: int, media_ids: list[int]) -> Uses:
    """Per media id, the case's posts that attach it, earliest first: (post id, poster label)."""
    return _labelled_uses(
        session,
        lambda chunk: (
            select(PostMedia.media_id, Post.id, Post.account_id, Post.created_at)
            .join(Post, Post.id == PostMedia.post_id)
            .where(Post.case_id == case_id, PostMedia.media_id.in_(chunk))
        ),
        media_ids,
    )


def coordination_graph(session: Session, case_id: int) -> tuple[nx.Graph, list[list[int]]]:
    """Accounts linked by ``coordinated_*`` findings, and each finding's account group.

    Edges come from ``details["edges"]`` when the analyzer gave them (``[a, b]``, ``[a, b, w]``
    or ``{"source": a, "target": b, "weight": w}`` with account ids); otherwise the group's
    accounts are linked to each other (a star around the first one for large groups).
    """
    graph = nx.Graph()
    groups: list[list[int]] = []
    findings = session.execute(
        select(Finding.id, Finding.details)
        .where(Finding.case_id == case_id, Finding.kind.like("coordinated%"))
        .order_by(Finding.score.desc(), Finding.id)
    ).all()
    members: dict[int, list[int]] = {f.id: [] for f in findings}
    for chunk in chunks(list(members)):
        for finding_id, account_id in session.execute(
            select(FindingEvidence.finding_id, FindingEvidence.account_id)
            .where(FindingEvidence.finding_id.in_(chunk), FindingEvidence.account_id.is_not(None))
            .order_by(FindingEvidence.id)
        ):
            if account_id is not None:
                members[finding_id].append(account_id)
    for finding_id, details in findings:
        accounts = list(dict.fromkeys(members[finding_id]))
        groups.append(accounts)
        edges = edges_from_details((details or {}).get("edges"))
        if not edges:
            edges = _group_edges(accounts)
        for a, b, weight in edges:
            if a == b:
                continue
            old = graph.get_edge_data(a, b, {}).get("weight", 0.0)
            graph.add_edge(a, b, weight=old + weight)
        graph.add_nodes_from(accounts)
    labels = load_account_labels(session, graph.nodes, case_id=case_id)
    graph.remove_nodes_from([n for n in list(graph.nodes) if n not in labels])  # other cases'
    for node in graph.nodes:
        graph.nodes[node]["label"] = labels[node]
    return graph, groups


def _group_edges(accounts: list[int]) -> list[GroupEdge]:
    if len(accounts) <= MAX_CLIQUE:
        return [GroupEdge(a, b) for i, a in enumerate(accounts) for b in accounts[i + 1 :]]
    hub = accounts[0]
    return [GroupEdge(hub, other) for other in accounts[1:]]
