"""Image reuse across accounts: clusters of the same picture, who posted it first, findings.

Input: the case's image usages (a picture in a post, or as an account's avatar) with each
media's fingerprint. Media judged the same picture (``analyzers.imagematch``) are grouped by
connected components; every cluster lists its usages in time order, its first poster, and per
member the transforms seen relative to the earliest copy and the hash distances.

Findings (``FindingDraft``):

- ``image_reuse``: one picture posted by N >= 2 accounts.
- ``avatar_reuse``: one picture used as the avatar of N >= 2 accounts (any platforms).
- ``image_recycled``: a post whose picture already appeared in the case earlier (by at least
  ``recycle_gap``), or before ``event_start`` when the case says when its event began: the
  picture cannot show that event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from osint.analyzers.findings import EvidenceRef, FindingDraft, FindingKind
from osint.analyzers.imagematch import (
    DEFAULT_RADIUS,
    ImageFingerprint,
    ImageMatch,
    compare,
    find_matches,
    in_gray_zone,
    transforms_between,
)
from osint.analyzers.localmatch import NOT_SAME, SCENE_APART_MOVED, LocalMatch

RECYCLE_GAP = timedelta(days=1)


@dataclass(frozen=True)
class ImageUsage:
    """One appearance of a stored image: in a post, or as an account's avatar."""

    media_id: int
    account_id: int
    platform: str
    posted_at: datetime | None  # when posted; for an avatar, when first captured
    post_id: int | None = None  # None for an avatar
    account_label: str = ""  # e.g. "@handle (x)", for explanations

    @property
    def is_avatar(self) -> bool:
        return self.post_id is None


@dataclass(frozen=True)
class ClusterMember:
    media_id: int
    phash_distance: int  # to the representative (earliest) image; 0 for itself
    dhash_distance: int
    transforms: tuple[str, ...]
    representative: bool = False
    local: dict[str, object] | None = None  # local-feature evidence (matched region, transform)


@dataclass
class ImageCluster:
    number: int
    members: list[ClusterMember]
    usages: list[ImageUsage] = field(default_factory=list)  # time order, unknown times last

    @property
    def representative_id(self) -> int:
        return next(member.media_id for member in self.members if member.representative)

    @property
    def first_usage(self) -> ImageUsage | None:
        return self.usages[0] if self.usages else None

    def accounts(self, *, avatars: bool | None = None) -> list[int]:
        """Distinct accounts in first-use order (only avatars / only posts when asked)."""
        seen: dict[int, None] = {}
        for usage in self.usages:
            if avatars is None or usage.is_avatar == avatars:
                seen.setdefault(usage.account_id, None)
        return list(seen)

    def transforms_seen(self) -> list[str]:
        found = {t for member in self.members for t in member.transforms}
        return sorted(found - {"original"})


def _time_key(usage: ImageUsage) -> tuple[bool, datetime, int]:
    return (usage.posted_at is None, usage.posted_at or datetime.max, usage.post_id or 0)


def _components(
    media_ids: Iterable[int],
    matches: Iterable[ImageMatch | LocalMatch],
    apart: Iterable[frozenset[int]] = (),
) -> list[list[int]]:
    """Connected components of ``matches``, taken in the order given (strongest first); a link
    that would put two media of an ``apart`` pair into one component is skipped."""
    parent = {media_id: media_id for media_id in media_ids}
    members = {media_id: {media_id} for media_id in parent}
    avoid: dict[int, set[int]] = defaultdict(set)
    for pair in apart:
        a, b = sorted(pair)
        if a in parent and b in parent:
            avoid[a].add(b)
            avoid[b].add(a)

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for match in matches:
        a, b = root(match.left_id), root(match.right_id)
        if a == b or not avoid[a].isdisjoint(members[b]):
            continue
        keep, gone = min(a, b), max(a, b)
        parent[gone] = keep
        members[keep] |= members.pop(gone)
        avoid[keep] |= avoid.pop(gone, set())
    groups: dict[int, list[int]] = defaultdict(list)
    for media_id in parent:
        groups[root(media_id)].append(media_id)
    return [sorted(group) for group in groups.values() if len(group) > 1]


def _strength(link: ImageMatch | LocalMatch) -> tuple[int, int]:
    """Sort key, strongest first: hash matches outside the gray zone (closest first), then local
    matches (most inliers first), then gray-zone hash matches."""
    if isinstance(link, LocalMatch):
        return (1, -link.inliers)
    total = link.phash_distance + link.dhash_distance
    return (2 if in_gray_zone(link) else 0, total)


def cluster_images(
    prints: Sequence[ImageFingerprint],
    usages: Sequence[ImageUsage],
    *,
    radius: int = DEFAULT_RADIUS,
    include_singletons_used_twice: bool = True,
    local_matches: Sequence[LocalMatch] = (),
) -> list[ImageCluster]:
    """Clusters of the same picture, numbered 1.. by first appearance.

    ``local_matches`` (``analyzers.localmatch``) join copies the hashes missed; only their
    ``same_picture`` relations merge, ``same_scene`` ones never do, and a pair the local stage
    calls ``same_scene`` or ``different`` is not merged by its hashes either.
    Two views of one scene with strong parallax (``localmatch.SCENE_APART_MOVED``) are not
    joined through other copies either.

    A single file used by two or more accounts (same sha256, so one media row) is a cluster
    too when ``include_singletons_used_twice``.
    """
    by_id = {fingerprint.media_id: fingerprint for fingerprint in prints}
    usages_by_media: dict[int, list[ImageUsage]] = defaultdict(list)
    for usage in usages:
        usages_by_media[usage.media_id].append(usage)
    local = {
        frozenset((m.left_id, m.right_id)): m
        for m in local_matches
        if m.relation == "same_picture" and m.left_id in by_id and m.right_id in by_id
    }
    # A hash match the local stage contradicts (same scene from elsewhere, or another picture
    # in the same frame) is no link: the pixels outrank the hashes.
    vetoed = {frozenset((m.left_id, m.right_id)) for m in local_matches if m.relation in NOT_SAME}
    hashed = [
        m for m in find_matches(prints, radius) if frozenset((m.left_id, m.right_id)) not in vetoed
    ]
    links: list[ImageMatch | LocalMatch] = sorted([*hashed, *local.values()], key=_strength)
    # Nor through other copies: two shots of one scene with strong parallax never share a
    # cluster (a crop of one can pass for the other picture; the strongest links go first).
    scenes = {
        frozenset((m.left_id, m.right_id))
        for m in local_matches
        if m.relation == "same_scene" and m.moved_cells >= SCENE_APART_MOVED
    }
    groups = _components(by_id, links, scenes)
    grouped = {media_id for group in groups for media_id in group}
    if include_singletons_used_twice:
        groups += [
            [media_id]
            for media_id, used in usages_by_media.items()
            if media_id not in grouped
            and media_id in by_id
            and len({u.account_id for u in used}) > 1
        ]
    clusters = []
    for group in groups:
        group_usages = sorted((u for m in group for u in usages_by_media.get(m, [])), key=_time_key)
        first_media = group_usages[0].media_id if group_usages else group[0]
        members = [_member(by_id[first_media], by_id[m], local) for m in group]
        clusters.append(ImageCluster(0, members, group_usages))
    clusters.sort(
        key=lambda c: _time_key(c.first_usage) if c.first_usage else (True, datetime.max, 0)
    )
    for number, cluster in enumerate(clusters, start=1):
        cluster.number = number
    return clusters


def _member(
    representative: ImageFingerprint,
    fingerprint: ImageFingerprint,
    local: dict[frozenset[int], LocalMatch],
) -> ClusterMember:
    if fingerprint.media_id == representative.media_id:
        return ClusterMember(fingerprint.media_id, 0, 0, ("original",), representative=True)
    match = compare(representative, fingerprint)
    found = local.get(frozenset((representative.media_id, fingerprint.media_id)))
    if match is None and found is not None:
        return ClusterMember(
            fingerprint.media_id,
            -1,
            -1,
            ("contains the picture (local features): " + found.describe(fingerprint.media_id),),
            local=found.evidence(),
        )
    if match is None:  # joined through another copy: a chain, not a direct match
        return ClusterMember(fingerprint.media_id, -1, -1, ("linked via another copy",))
    return ClusterMember(
        fingerprint.media_id,
        match.phash_distance,
        match.dhash_distance,
        transforms_between(representative, fingerprint, match),
    )


def _who(usage: ImageUsage) -> str:
    """ "@handle (x) in post 12 (media 3, 2022-04-21T08:14+00:00)"."""
    label = usage.account_label or f"account {usage.account_id} ({usage.platform})"
    where = f"in post {usage.post_id}" if usage.post_id is not None else "as avatar"
    seen = "" if usage.post_id is not None else "captured "
    when = f", {seen}{usage.posted_at.isoformat(timespec='minutes')}" if usage.posted_at else ""
    return f"{label} {where} (media {usage.media_id}{when})"


def _evidence(usages: Sequence[ImageUsage]) -> dict[str, tuple[int, ...]]:
    return {
        "accounts": tuple(dict.fromkeys(u.account_id for u in usages)),
        "posts": tuple(dict.fromkeys(u.post_id for u in usages if u.post_id is not None)),
        "media": tuple(dict.fromkeys(u.media_id for u in usages)),
    }


def _reuse_score(accounts: int) -> float:
    return min(1.0, 0.4 + 0.15 * (accounts - 2))


def reuse_findings(cluster: ImageCluster) -> list[FindingDraft]:
    """``image_reuse`` and ``avatar_reuse`` drafts for one cluster (none if one account)."""
    drafts = []
    for avatars, kind in ((False, FindingKind.IMAGE_REUSE), (True, FindingKind.AVATAR_REUSE)):
        used = [u for u in cluster.usages if u.is_avatar == avatars]
        accounts = cluster.accounts(avatars=avatars)
        if len(accounts) < 2:
            continue
        platforms = sorted({u.platform for u in used})
        first = used[0]
        what = "avatar" if avatars else "picture"
        changes = ", ".join(cluster.transforms_seen()) or "no visible change"
        lines = "; ".join(_who(u) for u in used[:20]) + ("; ..." if len(used) > 20 else "")
        explanation = (
            f"The same {what} (image cluster {cluster.number}, {len(cluster.members)} file(s)) "
            f"was used by {len(accounts)} accounts on {', '.join(platforms)}. "
            f"First: {_who(first)}. Copies differ by: {changes}. In time order: {lines}. "
            "Matching is perceptual (pHash and dHash agreeing, crops via sub-window hashes; "
            "screenshots, rotations and framed copies via ORB keypoints fitting one homography, "
            "its matched region in the details): "
            "compare the cited media side by side before relying on it."
        )
        roles = {
            EvidenceRef.account(first.account_id): "first_poster",
            EvidenceRef.media(first.media_id): "earliest",
        }
        if first.post_id is not None:
            roles[EvidenceRef.post(first.post_id)] = "earliest"
        drafts.append(
            FindingDraft(
                kind=kind,
                score=_reuse_score(len(accounts)),
                title=f"Same {what} on {len(accounts)} accounts"
                + (" across platforms" if len(platforms) > 1 else ""),
                explanation=explanation,
                details={**_details(cluster, used), "first": _who(first)},
                roles=roles,
                **_evidence(used),
            )
        )
    return drafts


def _details(cluster: ImageCluster, used: Sequence[ImageUsage]) -> dict[str, object]:
    return {
        "cluster": cluster.number,
        "platforms": sorted({u.platform for u in used}),
        "first_seen": used[0].posted_at.isoformat() if used and used[0].posted_at else None,
        "transforms": cluster.transforms_seen(),
        "members": [
            {
                "media_id": m.media_id,
                "phash_distance": m.phash_distance,
                "dhash_distance": m.dhash_distance,
                "transforms": list(m.transforms),
                **({"local_match": m.local} if m.local else {}),
            }
            for m in cluster.members
        ],
    }


def recycled_findings(
    cluster: ImageCluster,
    *,
    event_start: datetime | None = None,
    recycle_gap: timedelta = RECYCLE_GAP,
) -> list[FindingDraft]:
    """``image_recycled`` drafts: posts whose picture was already in the case well before."""
    posts = [u for u in cluster.usages if not u.is_avatar and u.posted_at is not None]
    if len(posts) < 2:
        return []
    earliest = posts[0]
    assert earliest.posted_at is not None
    if event_start is not None:
        if earliest.posted_at >= event_start:
            return []
        later = [u for u in posts if u.posted_at and u.posted_at >= event_start]
        reason = f"before the event began ({event_start.isoformat(timespec='minutes')})"
    else:
        later = [
            u for u in posts if u.posted_at and u.posted_at - earliest.posted_at >= recycle_gap
        ]
        reason = f"at least {recycle_gap} earlier"
    if not later:
        return []
    explanation = (
        f"The picture in {len(later)} later post(s) already appeared in this case {reason}: "
        f"first by {_who(earliest)}. Later: "
        + "; ".join(_who(u) for u in later[:20])
        + ". A picture that existed before cannot document what these posts present as new."
    )
    cited = [earliest, *later]
    return [
        FindingDraft(
            kind=FindingKind.IMAGE_RECYCLED,
            score=0.7 if event_start is not None else 0.5,
            title=f"Picture posted before: {len(later)} later post(s) reuse an older image",
            explanation=explanation,
            details=_details(cluster, cited),
            roles={
                **(
                    {EvidenceRef.post(earliest.post_id): "earliest_copy"}
                    if earliest.post_id is not None
                    else {}
                ),
                EvidenceRef.account(earliest.account_id): "first_poster",
            },
            **_evidence(cited),
        )
    ]


def image_findings(
    clusters: Iterable[ImageCluster],
    *,
    event_start: datetime | None = None,
    recycle_gap: timedelta = RECYCLE_GAP,
) -> list[FindingDraft]:
    drafts: list[FindingDraft] = []
    for cluster in clusters:
        drafts += reuse_findings(cluster)
        drafts += recycled_findings(cluster, event_start=event_start, recycle_gap=recycle_gap)
    return drafts
