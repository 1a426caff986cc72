"""twarc2 JSONL: API pages and `twarc2 flatten` lines, written here in the documented shapes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from osint.collectors.importers import ImportProblem
from osint.collectors.importers.twarc import read_twarc
from osint.storage.db import Store
from osint.storage.models import Account, CollectionRun, Post, PostMedia
from osint.storage.records import PostRecord
from tests.conftest import CliRun

TWARC = {
    "url": "https://api.twitter.com/2/users/99/tweets?max_results=100",
    "version": "2.14.0",
    "retrieved_at": "2022-04-22T10:00:00+00:00",
}
USERS = [
    {
        "id": "99",
        "username": "dia_diarra",
        "name": "Dia Diarra",
        "created_at": "2022-04-15T10:00:00.000Z",
    },
    {"id": "7", "username": "sahel", "name": "Sahel"},
]


def tweet(tweet_id: int, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(tweet_id),
        "text": text,
        "author_id": "99",
        "created_at": f"2022-04-21T09:{tweet_id % 60:02d}:00.000Z",
        "edit_history_tweet_ids": [str(tweet_id)],
        **extra,
    }


def page_line(tweets: list[dict[str, Any]], media: list[dict[str, Any]] = ()) -> str:  # type: ignore[assignment]
    includes: dict[str, Any] = {"users": USERS}
    if media:
        includes["media"] = list(media)
    return json.dumps(
        {
            "data": tweets,
            "includes": includes,
            "meta": {"result_count": len(tweets)},
            "__twarc": TWARC,
        }
    )


def flat_line(tweet_id: int, text: str, **extra: Any) -> str:
    item = tweet(tweet_id, text, **extra)
    item["author"] = USERS[0]
    item["__twarc"] = TWARC
    return json.dumps(item)


def sample() -> str:
    photo = {
        "media_key": "3_5",
        "type": "photo",
        "url": "https://pbs.twimg.com/media/5.jpg",
        "width": 640,
        "height": 480,
    }
    lines = [
        page_line(
            [
                tweet(
                    1511700000000000001,
                    "Gossi #Mali",
                    attachments={"media_keys": ["3_5"]},
                    entities={"hashtags": [{"start": 6, "end": 11, "tag": "Mali"}]},
                ),
                tweet(
                    1511700000000000002,
                    "RT @sahel: hello",
                    referenced_tweets=[{"type": "retweeted", "id": "1511600000000000000"}],
                ),
            ],
            [photo],
        ),
        "{not json",
        json.dumps({"meta": {"result_count": 0}, "__twarc": TWARC}),
        json.dumps({"data": USERS, "__twarc": TWARC}),
        "",
        flat_line(
            1511700000000000003,
            "flattened reply",
            in_reply_to_user_id="7",
            referenced_tweets=[
                {
                    "type": "replied_to",
                    "id": "1511600000000000009",
                    "text": "the parent",
                    "author_id": "7",
                    "author": USERS[1],
                }
            ],
            attachments={"media_keys": ["3_5"], "media": [photo]},
        ),
        json.dumps([1, 2]),
        # the same tweet again, flattened
        flat_line(
            1511700000000000001,
            "Gossi #Mali",
            attachments={"media_keys": ["3_5"], "media": [photo]},
        ),
    ]
    return "\n".join(lines) + "\n"


def test_read_twarc_pages_flatten_and_bad_lines() -> None:
    items = list(read_twarc(io.BytesIO(sample().encode())))
    problems = [i for i in items if isinstance(i, ImportProblem)]
    records = [i for i in items if isinstance(i, PostRecord)]
    posts = [p for p in records if p.seen_via is None]
    assert [p.line for p in problems] == [2, 4, 7]
    assert "not JSON" in problems[0].message and "users" in problems[1].message
    assert [p.kind for p in posts] == ["post", "repost", "reply", "post"]
    # the replied-to tweet (expanded in the flattened line) is a post of its own author, seen
    # through the reference; no content keys of its own
    (parent,) = [p for p in records if p.seen_via == "reference"]
    assert (parent.platform_id, parent.account.handle) == ("1511600000000000009", "sahel")
    assert parent.text == "the parent" and not parent.objects
    first, repost, reply, _ = posts
    assert first.media[0].source_url == "https://pbs.twimg.com/media/5.jpg" and first.hashtags == [
        "Mali"
    ]
    assert repost.repost_of == "1511600000000000000" and repost.account.handle == "dia_diarra"
    assert reply.reply_to == "1511600000000000009" and reply.media[0].platform_key == "3_5"
    assert reply.extra["twarc"]["retrieved_at"] == "2022-04-22T10:00:00+00:00"


def test_import_twarc_cli_is_idempotent(run_cli: CliRun, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    path.write_text(sample(), encoding="utf-8")
    run_cli("case", "new", "c")
    out = run_cli("import", "twarc", str(path), "--case", "c").stdout
    assert "3 new posts" in out and "3 problems" in out
    assert "1 posts they reposted, quoted or replied to stored as seen through a reference" in out
    again = run_cli("import", "twarc", str(path), "--case", "c").stdout
    assert "0 new posts" in again and "seen through a reference" not in again
    with store.reader() as s:
        assert s.execute(select(func.count()).select_from(Post)).scalar_one() == 4
        referenced = s.execute(select(Post.platform_id).where(Post.seen_via == "reference"))
        assert referenced.scalars().all() == ["1511600000000000009"]
        assert (
            s.execute(select(Account.handle).where(Account.platform_id == "99")).scalar_one()
            == "dia_diarra"
        )
        assert s.execute(select(func.count()).select_from(PostMedia)).scalar_one() == 2
        run = s.execute(select(CollectionRun).order_by(CollectionRun.id)).scalars().first()
    assert (
        run is not None and run.platform == "twarc" and run.errors[0].startswith("line 2: not JSON")
    )
    assert store.media.read(run.params["sha256"]) == path.read_bytes()
    exported = [
        json.loads(line) for line in run_cli("export", "posts", "--case", "c").stdout.splitlines()
    ]
    assert {r["platform"] for r in exported} == {"x"} and exported[0]["capture_url"].startswith(
        "file://"
    )
