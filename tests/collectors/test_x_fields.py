"""X fields asked for and kept (issue 15 item 7): withheld, geo with its place, polls, context
annotations; the collector and the twarc2 importer share the normaliser, so both keep them.

The page is written to the documented v2 shapes (docs.x.com: Tweet object ``geo``,
``withheld``, ``context_annotations``; Poll and Place objects under ``includes``); the twarc2
line is the same tweet as ``twarc2 flatten`` writes it (``geo.place`` and
``attachments.poll`` inline).
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from osint.collectors.importers.twarc import read_twarc
from osint.collectors.x import page_from_flat_tweet, posts_from_page
from osint.storage.db import Store
from osint.storage.models import Post
from osint.storage.records import PostRecord
from tests.conftest import CliRun

PLACE = {
    "full_name": "Bamako, Mali",
    "id": "5a110d312052166f",
    "name": "Bamako",
    "country": "Mali",
    "country_code": "ML",
    "place_type": "city",
    "geo": {"type": "Feature", "bbox": [-8.07, 12.55, -7.93, 12.71], "properties": {}},
}
POLL = {
    "id": "1199786642468413448",
    "voting_status": "closed",
    "duration_minutes": 1440,
    "end_datetime": "2022-04-22T09:04:34.000Z",
    "options": [
        {"position": 1, "label": "Gossi", "votes": 795},
        {"position": 2, "label": "Ailleurs", "votes": 800},
    ],
}
TWEET = {
    "id": "1517044339430199296",
    "text": "Où étaient les soldats ?",
    "author_id": "99",
    "created_at": "2022-04-21T09:04:34.000Z",
    "attachments": {"poll_ids": ["1199786642468413448"]},
    "geo": {"place_id": "5a110d312052166f"},
    "withheld": {"copyright": False, "country_codes": ["FR", "DE"], "scope": "tweet"},
    "context_annotations": [
        {
            "domain": {"id": "3", "name": "TV Shows", "description": "Television shows"},
            "entity": {"id": "10000607734", "name": "Sahel news"},
        }
    ],
    "edit_history_tweet_ids": ["1517044339430199296"],
}
USER = {"id": "99", "username": "dia_diarra", "name": "Dia Diarra"}
PAGE = {
    "data": [TWEET],
    "includes": {"users": [USER], "places": [PLACE], "polls": [POLL]},
    "meta": {"result_count": 1, "newest_id": TWEET["id"], "oldest_id": TWEET["id"]},
}


def flat_line() -> dict[str, Any]:
    """The tweet as ``twarc2 flatten`` writes it: expansions in-line."""
    flat = copy.deepcopy(TWEET)
    flat["author"] = USER
    flat["geo"]["place"] = PLACE
    flat["attachments"]["poll"] = POLL
    return flat


def check(post: PostRecord) -> None:
    kinds = {item["type"]: item for item in post.content}
    poll, place, withheld = kinds["poll"], kinds["place"], kinds["withheld"]
    assert [(o["label"], o["votes"]) for o in poll["options"]] == [
        ("Gossi", 795),
        ("Ailleurs", 800),
    ]
    assert poll["voting_status"] == "closed" and poll["duration_minutes"] == 1440
    assert place["full_name"] == "Bamako, Mali" and place["country_code"] == "ML"
    assert place["bbox"] == [-8.07, 12.55, -7.93, 12.71]
    assert withheld["country_codes"] == ["FR", "DE"]
    assert post.extra["withheld"]["country_codes"] == ["FR", "DE"]
    assert post.extra["context_annotations"][0]["entity"]["name"] == "Sahel news"
    assert post.extra["geo"]["place_id"] == "5a110d312052166f"


def test_the_api_page_and_the_twarc_line_keep_the_same_fields() -> None:
    from_api = posts_from_page(PAGE).posts[0]
    from_twarc = posts_from_page(page_from_flat_tweet(flat_line())).posts[0]
    check(from_api)
    check(from_twarc)
    assert from_api.content == from_twarc.content


def test_twarc_import_stores_and_exports_them(
    run_cli: CliRun, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "flat.jsonl"
    path.write_text(json.dumps(flat_line()) + "\n" + json.dumps(PAGE) + "\n", encoding="utf-8")
    assert [type(i).__name__ for i in read_twarc(io.BytesIO(path.read_bytes()))] == [
        "PostRecord",
        "PostRecord",
    ]
    run_cli("case", "new", "c")
    run_cli("import", "twarc", str(path), "--case", "c")
    with store.reader() as s:
        content = s.execute(select(Post.content)).scalar_one()
    assert {item["type"] for item in content} == {"poll", "place", "withheld"}
    exported = json.loads(run_cli("export", "posts", "--case", "c").stdout.splitlines()[0])
    assert [o["label"] for o in exported["content"][0]["options"]] == ["Gossi", "Ailleurs"]


def test_the_collector_asks_for_them(store: Store, x_settings: Any, replay: Any) -> None:
    from osint.cases import create_case
    from osint.collect import collect_account
    from tests.demo.replay.worlds import dia_world

    create_case(store, "c")
    dia_world(replay.world, posts=2)
    collect_account(store, x_settings, platform="x", target="dia_diarra", case="c")
    asked = next(r for r in replay.requests if r.path.endswith("/tweets"))
    expansions = asked.query["expansions"].split(",")
    assert {"attachments.poll_ids", "geo.place_id"} <= set(expansions)
    fields = set(asked.query["tweet.fields"].split(","))
    assert {"withheld", "geo", "context_annotations"} <= fields
    assert "options" in asked.query["poll.fields"] and "country_code" in asked.query["place.fields"]
