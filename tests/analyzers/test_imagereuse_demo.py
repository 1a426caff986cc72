"""The demo world's pictures: re-uploaded copies form one cluster per original, first posted by the
source account, and the stock avatar shared by the amplifiers is found."""

from __future__ import annotations

import hashlib

import pytest

from osint.analyzers.findings import EvidenceRef
from osint.analyzers.imagematch import ImageFingerprint
from osint.analyzers.imagereuse import ImageUsage, cluster_images, image_findings
from osint.analyzers.images import hash_image
from osint.demo.scenario import EVENT, Scenario


@pytest.fixture(scope="module")
def demo(
    demo_scenario: Scenario,
) -> tuple[object, dict[str, int], list[ImageFingerprint], list[ImageUsage]]:
    scenario = demo_scenario
    media_ids = {key: number for number, key in enumerate(sorted(scenario.images), start=1)}
    account_ids = {key: number for number, key in enumerate(scenario.personas, start=1)}
    prints = []
    for key, data in scenario.images.items():
        record = hash_image(data)
        assert record.ok, key
        sha = hashlib.sha256(data).hexdigest()
        prints.append(
            ImageFingerprint.from_hex(
                media_ids[key], record.hashes, width=record.width, height=record.height, sha256=sha
            )
        )
    usages = [
        ImageUsage(
            media_ids[image],
            account_ids[m.author],
            m.platform,
            m.created_at,
            post_id=number,
            account_label=m.author,
        )
        for number, m in enumerate(scenario.messages, start=1)
        for image in m.images
    ]
    usages += [
        ImageUsage(media_ids[p.avatar], account_ids[p.key], p.platform, None, account_label=p.key)
        for p in scenario.personas.values()
    ]
    return scenario, media_ids, prints, usages


def test_reuploads_cluster_with_the_source_first(demo) -> None:
    scenario, media_ids, prints, usages = demo
    clusters = cluster_images(prints, usages)
    by_media = {m.media_id: c for c in clusters for m in c.members}
    for original, copies in scenario.truth.copies.items():
        if not copies:
            continue
        cluster = by_media[media_ids[original]]
        names = {
            key
            for key, number in media_ids.items()
            if number in {m.media_id for m in cluster.members}
        }
        assert names == {original, *copies}
        assert cluster.first_usage.account_label == scenario.truth.source
        assert cluster.representative_id == media_ids[original]


def test_shared_avatar_is_found(demo) -> None:
    scenario, media_ids, prints, usages = demo
    drafts = image_findings(cluster_images(prints, usages), event_start=EVENT)
    stock = media_ids["avatar_stock"]
    avatar = [d for d in drafts if d.kind == "avatar_reuse" and stock in d.media]
    assert len(avatar) == 1
    labels = {u.account_id: u.account_label for u in usages}
    assert sorted(labels[a] for a in avatar[0].accounts) == sorted(scenario.truth.shared_avatar)
    # Any other shared avatar must be the very same file: the demo derives organic avatars'
    # seeds from sum(map(ord, key)), so anagram keys (org_01, org_10) get identical portraits.
    sha = {fp.media_id: fp.sha256 for fp in prints}
    for other in (d for d in drafts if d.kind == "avatar_reuse" and stock not in d.media):
        assert len({sha[m] for m in other.media}) == 1
    graves = {media_ids[key] for key in scenario.truth.grave_images}
    reuse = [d for d in drafts if d.kind == "image_reuse" and graves & set(d.media)]
    assert len(reuse) == 3  # grave_1 and grave_3 re-uploaded; grave_2 reposted as the same file
    source = next(u.account_id for u in usages if u.account_label == scenario.truth.source)
    assert all(
        d.accounts[0] == source and d.roles[EvidenceRef.account(source)] == "first_poster"
        for d in reuse
    )
    for other in (d for d in drafts if d.kind == "image_reuse" and not graves & set(d.media)):
        assert len({sha[m] for m in other.media}) == 1  # the same seed-collision quirk
    recycled = [d for d in drafts if d.kind == "image_recycled"]
    assert not [d for d in recycled if graves & set(d.media)]  # no grave picture predates it
