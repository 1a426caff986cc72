"""A post captured again follows the latest capture; each earlier text keeps its own fields.

The twarc pair is written in the shape of twarc-csv's ``media_policy_violation_off/on.jsonl``
(real recordings, MIT): the same tweets captured twice, the second time replaced by X's
"temporarily unavailable because it violates the Twitter Media Policy" notice with its
"Learn more" link and no hashtags. The collection case runs the real collector against the
replay server with ``--full``; monitoring re-checks write through the same ``CaseWriter`` path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from osint import imports
from osint.cases import create_case
from osint.collect import collect_account
from osint.config import Settings
from osint.demo.replay import ReplayServer
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter
from osint.storage.models import Post, PostMedia, PostObject, PostVersion, SharedObject
from osint.storage.records import MediaRef
from tests.demo.replay.worlds import dia_world
from tests.factories import make_media_ref, make_post

NOTICE = (
    "@MariamBarghouti's account is temporarily unavailable because it violates the Twitter "
    "Media Policy. Learn more."
)
LEARN_MORE = "https://support.twitter.com/articles/20169199"
TWARC = {
    "url": "https://api.twitter.com/2/tweets/search/recent?query=from%3Amariambarghouti",
    "version": "2.0.12",
}
USER = {"id": "250858058", "username": "MariamBarghouti", "name": "Mariam Barghouti"}


def _tweet(n: int, withheld: bool) -> dict[str, Any]:
    tweet: dict[str, Any] = {
        "id": str(1392212748424056832 + n),
        "author_id": USER["id"],
        "created_at": f"2021-05-11T20:{n % 60:02d}:19.000Z",
        "lang": "en",
        "conversation_id": str(1392212748424056832 + n),
        "public_metrics": {"retweet_count": 49, "reply_count": 2, "like_count": 81},
        "source": "Twitter for iPhone",
    }
    if withheld:
        tweet["text"] = NOTICE
        tweet["entities"] = {
            "urls": [
                {"start": 100, "end": 110, "url": LEARN_MORE, "expanded_url": LEARN_MORE}
                | {"display_url": "Learn more"}
            ]
        }
    else:
        tweet["text"] = f"Protest {n} in #Nablus and #Ramallah, via @qudsn https://t.co/x{n}"
        tweet["entities"] = {
            "hashtags": [
                {"start": 12, "end": 19, "tag": "Nablus"},
                {"start": 24, "end": 33, "tag": "Ramallah"},
            ],
            "mentions": [{"start": 39, "end": 45, "username": "qudsn"}],
            "urls": [
                {"start": 46, "end": 69, "url": f"https://t.co/x{n}"}
                | {"expanded_url": f"https://www.qudsn.co/news/{n}"}
            ],
        }
    return tweet


def _page(path: Path, *, withheld: bool, retrieved: str) -> Path:
    page = {
        "data": [_tweet(n, withheld) for n in range(100)],
        "includes": {"users": [USER]},
        "meta": {"result_count": 100},
        "__twarc": {**TWARC, "retrieved_at": retrieved},
    }
    path.write_text(json.dumps(page) + "\n")
    return path


def _stored(store: Store) -> dict[str, Any]:
    with store.reader() as s:
        posts = {p.platform_id: p for p in s.execute(select(Post)).scalars()}
        keys = s.execute(
            select(Post.platform_id, SharedObject.modality, SharedObject.key)
            .join(PostObject, PostObject.post_id == Post.id)
            .join(SharedObject, SharedObject.id == PostObject.object_id)
        ).all()
        versions = s.execute(select(PostVersion).order_by(PostVersion.id)).scalars().all()
    by_post: dict[str, set[tuple[str, str]]] = {}
    for pid, modality, key in keys:
        by_post.setdefault(pid, set()).add((modality, key))
    return {"posts": posts, "keys": by_post, "versions": versions}


def test_a_withheld_recapture_replaces_every_derived_field(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    create_case(store, "c")
    off = _page(tmp_path / "off.jsonl", withheld=False, retrieved="2021-05-11T21:36:26+00:00")
    on = _page(tmp_path / "on.jsonl", withheld=True, retrieved="2021-05-11T22:31:08+00:00")
    imports.import_twarc(store, settings, case="c", path=off, read_in_child=False)
    summary = imports.import_twarc(store, settings, case="c", path=on, read_in_child=False)
    assert summary.posts_known == 100 and summary.posts_new == 0
    stored = _stored(store)
    wrong = 0
    for post in stored["posts"].values():
        wrong += (post.hashtags != []) + (post.mentions != []) + (post.links != [LEARN_MORE])
        assert post.text == NOTICE and post.extra["twarc"]["retrieved_at"].startswith(
            "2021-05-11T22"
        )
        keys = stored["keys"][post.platform_id]
        assert ("url", LEARN_MORE) in keys
        assert not {k for k in keys if k[0] == "hashtag"}  # #nablus and #ramallah are gone
        assert not any("qudsn" in key for _, key in keys)
    assert wrong == 0  # was 199 wrong fields on 99 posts
    versions = stored["versions"]
    assert len(versions) == 200
    first, second = versions[0], versions[100]
    assert first.post_id == second.post_id
    assert first.hashtags == ["Nablus", "Ramallah"] and first.mentions == ["qudsn"]
    assert first.links == ["https://www.qudsn.co/news/0"] and second.links == [LEARN_MORE]
    assert second.hashtags == [] and second.text == NOTICE
    # imported again: nothing changes, nothing is counted twice
    again = imports.import_twarc(store, settings, case="c", path=on, read_in_child=False)
    assert (again.posts_known, again.posts_repeated) == (100, 0)
    assert len(_stored(store)["versions"]) == 200


def test_attachments_follow_a_capture_that_lists_them(store: Store) -> None:
    case_id = create_case(store, "c").id
    post = make_post(media=[make_media_ref(position=0), make_media_ref(position=1)])
    with store.session() as s:
        CaseWriter(s, case_id, source="t").posts([post])
    post.text = "edited, one picture replaced"
    post.media = [make_media_ref(position=0)]
    with store.session() as s:
        result = CaseWriter(s, case_id, source="t").posts([post])
    assert len(result.edited) == 1
    with store.reader() as s:
        links = s.execute(select(PostMedia.position, PostMedia.source_url)).all()
        versions = s.execute(select(PostVersion.media).order_by(PostVersion.id)).scalars().all()
    assert links == [(0, post.media[0].source_url)]
    assert [len(v) for v in versions] == [2, 1]
    # a re-check that leaves the attachments out (monitoring) does not remove them
    post.media = []
    with store.session() as s:
        CaseWriter(s, case_id, source="t").posts([post])
    with store.reader() as s:
        assert len(s.execute(select(PostMedia)).all()) == 1


def test_a_capture_naming_only_the_attachment_keys_keeps_the_stored_media(store: Store) -> None:
    """X expands a retweeted post without its media (only the keys): collected after the
    author's own timeline, that copy must not unlink the pictures already downloaded."""
    case_id = create_case(store, "c").id
    full = make_post(media=[make_media_ref(position=0, platform_key="3_1", sha256="ab" * 32)])
    with store.session() as s:
        writer = CaseWriter(s, case_id, source="t")
        writer.media_many([{"sha256": "ab" * 32, "size": 3, "mime": "image/jpeg"}])
        writer.posts([full])
    bare = make_post(
        full.account,
        platform_id=full.platform_id,
        text=full.text,
        media=[MediaRef(None, 0, platform_key="3_1", error="not in the response")],
    )
    with store.session() as s:
        CaseWriter(s, case_id, source="t").posts([bare])
    with store.reader() as s:
        links = s.execute(select(PostMedia.media_id, PostMedia.source_url, PostMedia.error)).all()
    assert len(links) == 1
    media_id, url, error = links[0]
    assert media_id is not None and url == full.media[0].source_url and error is None
    # a capture that does list the attachment, changed, still replaces it
    moved = make_media_ref(position=0, platform_key="3_9")
    with store.session() as s:
        CaseWriter(s, case_id, source="t").posts(
            [make_post(full.account, platform_id=full.platform_id, text=full.text, media=[moved])]
        )
    with store.reader() as s:
        assert s.execute(select(PostMedia.source_url)).scalars().all() == [moved.source_url]


def test_collect_full_refreshes_an_edited_posts_fields(
    store: Store, x_settings: Settings, replay: ReplayServer
) -> None:
    create_case(store, "c")
    dia = dia_world(replay.world, posts=3)
    collect_account(store, x_settings, platform="x", target="dia_diarra", case="c")
    post = replay.world.timeline(dia)[-1]
    post.hashtags, post.links = ["Wagner"], ["https://example.org/proof"]
    replay.world.edit_post(post, "Texte corrigé")
    summary = collect_account(
        store, x_settings, platform="x", target="dia_diarra", case="c", full=True
    )
    assert len(summary.edited) == 1
    with store.reader() as s:
        row = s.execute(select(Post).where(Post.platform_id == post.id)).scalar_one()
        keys = s.execute(
            select(SharedObject.modality, SharedObject.key)
            .join(PostObject, PostObject.object_id == SharedObject.id)
            .where(PostObject.post_id == row.id)
        ).all()
        old, new = s.execute(
            select(PostVersion).where(PostVersion.post_id == row.id).order_by(PostVersion.id)
        ).scalars()
    assert row.hashtags == ["Wagner"] and row.links == ["https://example.org/proof"]
    assert ("hashtag", "wagner") in keys and ("url", "https://example.org/proof") in keys
    assert not any(modality == "text" and "post" in key for modality, key in keys)
    assert new.hashtags == ["Wagner"] and old.hashtags != ["Wagner"]
