"""The replay server itself: world, routing, faults, request log, and X's documented shapes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from osint.demo.replay import ReplayServer, World
from tests.conftest import X_TOKEN
from tests.demo.replay.worlds import dia_world

AUTH = {"Authorization": f"Bearer {X_TOKEN}"}
TWEET_PARAMS = {
    "max_results": "100",
    "tweet.fields": "created_at,author_id,entities",
    "expansions": "attachments.media_keys,author_id,referenced_tweets.id,"
    "referenced_tweets.id.author_id,entities.mentions.username",
    "media.fields": "url,preview_image_url,width,height",
    "user.fields": "created_at",
}


def get(replay: ReplayServer, path: str, **params: Any) -> httpx.Response:
    headers = params.pop("headers", AUTH)
    return httpx.get(f"{replay.base_url('x')}{path}", params=params, headers=headers, timeout=5)


# -- the world -------------------------------------------------------------------------------
def test_world_changes_and_timeline_order() -> None:
    world = World()
    account = world.add_account("x", "someone", followers=3)
    first = world.add_post(account, "one")
    second = world.add_post(account, "two")
    assert int(second.id) > int(first.id)  # snowflake ids follow creation time
    assert [p.text for p in world.timeline(account)] == ["two", "one"]
    world.edit_post(first, "one, corrected")
    world.delete_post(second)
    world.update_account(account, handle="renamed", status="suspended")
    assert [p.text for p in world.timeline(account)] == ["one, corrected"] and first.edits == [
        "one"
    ]
    assert world.account_by_handle("x", "RENAMED") is account and account.status == "suspended"
    with pytest.raises(AttributeError):
        world.update_account(account, nonsense=1)


def test_fault_plan_matching() -> None:
    world = World()
    fault = world.faults.add("status", path=r"^/12[.]jpg$", platform="media", times=2)
    assert world.faults.take("media", "/112.jpg") is None
    assert world.faults.take("x", "/12.jpg") is None
    assert world.faults.take("media", "/12.jpg") is fault
    assert world.faults.take("media", "/12.jpg") is fault
    assert world.faults.take("media", "/12.jpg") is None and world.faults.pending == []
    with pytest.raises(ValueError, match="unknown fault"):
        world.faults.add("explode")


# -- the server ------------------------------------------------------------------------------
def test_request_log_media_and_settings(replay: ReplayServer) -> None:
    image = replay.world.add_image(30, 20)
    seen: list[str] = []
    replay.on_request = lambda r: seen.append(r.path)
    response = httpx.get(f"{replay.url}/media/{image.id}.jpg", headers={"X-Test": "1"})
    assert response.content == image.data and response.headers["content-type"] == "image/jpeg"
    avatar = httpx.get(f"{replay.url}/media/profile_images/{image.id}_normal.jpg")
    assert avatar.content == image.data
    assert httpx.get(f"{replay.url}/media/999.jpg").status_code == 404
    assert httpx.get(f"{replay.url}/nowhere/x").status_code == 404
    assert seen[0] == f"/{image.id}.jpg" and replay.requests[0].headers["x-test"] == "1"
    assert replay.settings_overrides() == {
        "x_api_url": f"{replay.url}/x",
        "telegram_url": f"{replay.url}/telegram",
        "bluesky_api_url": f"{replay.url}/bluesky",
        "mastodon_instance_url": f"{replay.url}/mastodon",
    }


def test_generic_faults_on_the_wire(replay: ReplayServer) -> None:
    image = replay.world.add_image()
    url = f"{replay.url}/media/{image.id}.jpg"
    replay.world.faults.add("status", status=503, platform="media")
    assert httpx.get(url).status_code == 503
    replay.world.faults.add("html", platform="media")
    assert httpx.get(url).text.startswith("<!DOCTYPE html>")
    replay.world.faults.add("truncated", platform="media")
    cut = httpx.get(url)
    assert cut.status_code == 200 and cut.content == image.data[: len(image.data) // 2]
    replay.world.faults.add("drop", platform="media")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
    replay.world.faults.add("endless", platform="media")
    with httpx.stream("GET", url) as endless:
        assert endless.headers["content-length"] == str(10 * 1024**3)
        assert len(next(endless.iter_raw(4096))) > 0
    assert httpx.get(url).content == image.data  # every fault used up


# -- X ---------------------------------------------------------------------------------------
def test_x_user_fields_are_filtered_as_documented(replay: ReplayServer) -> None:
    dia_world(replay.world, posts=2)
    bare = get(replay, "/2/users/by/username/dia_diarra").json()
    assert set(bare["data"]) == {"id", "name", "username"}
    full = get(
        replay,
        "/2/users/by/username/DIA_DIARRA",
        **{"user.fields": "created_at,public_metrics,profile_image_url,location"},
    ).json()["data"]
    assert full["created_at"] == "2022-04-15T10:00:00.000Z" and full["location"] == "Gossi, Mali"
    assert full["public_metrics"]["tweet_count"] == 6
    assert full["profile_image_url"].endswith("_normal.jpg")
    by_id = get(replay, f"/2/users/{full['id']}").json()["data"]
    assert by_id["username"] == "Dia_Diarra"


def test_x_auth_and_errors(replay: ReplayServer) -> None:
    dia = replay.world.add_account("x", "gone", status="suspended")
    replay.world.add_account("x", "locked", status="protected")
    unauthorized = get(replay, "/2/users/by/username/gone", headers={})
    assert unauthorized.status_code == 401 and unauthorized.json()["title"] == "Unauthorized"
    wrong = get(replay, "/2/users/by/username/gone", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    missing = get(replay, "/2/users/by/username/nobody").json()
    assert "data" not in missing and missing["errors"][0]["title"] == "Not Found Error"
    assert missing["errors"][0]["detail"] == "Could not find user with username: [nobody]."
    suspended = get(replay, "/2/users/by/username/gone").json()["errors"][0]
    assert (
        suspended["detail"] == "User has been suspended: [gone]."
        and suspended["title"] == "Forbidden"
    )
    assert get(replay, f"/2/users/{dia.id}/tweets").json()["errors"][0]["title"] == "Forbidden"
    locked = replay.world.account_by_handle("x", "locked")
    assert locked is not None
    denied = get(replay, f"/2/users/{locked.id}/tweets").json()["errors"][0]
    assert denied["title"] == "Authorization Error"
    fine = replay.world.add_account("x", "fine")
    bad = get(replay, f"/2/users/{fine.id}/tweets", max_results="1")
    assert bad.status_code == 400 and "not between 5 and 100" in bad.json()["errors"][0]["message"]
    assert get(replay, "/2/nothing").status_code == 404


def test_x_timeline_pages_includes_and_since_id(replay: ReplayServer) -> None:
    dia = dia_world(replay.world, posts=8)
    path = f"/2/users/{dia.id}/tweets"
    first = get(replay, path, **{**TWEET_PARAMS, "max_results": "5"})
    body = first.json()
    assert first.headers["x-rate-limit-remaining"] and int(first.headers["x-rate-limit-reset"]) > 0
    assert body["meta"]["result_count"] == 5 and "next_token" in body["meta"]
    ids = [t["id"] for t in body["data"]]
    assert ids == sorted(ids, key=int, reverse=True) and body["meta"]["newest_id"] == ids[0]
    users = {u["username"] for u in body["includes"]["users"]}
    assert {"Dia_Diarra", "sahel_news"} <= users
    kinds = {r["type"] for t in body["data"] for r in t.get("referenced_tweets", [])}
    assert kinds == {"retweeted", "replied_to", "quoted"}
    assert body["includes"]["tweets"][0]["text"].startswith("Images from Gossi")
    second = get(
        replay, path, **{**TWEET_PARAMS, "pagination_token": body["meta"]["next_token"]}
    ).json()
    assert len(second["data"]) == 7 and "next_token" not in second["meta"]
    assert "previous_token" in second["meta"]
    assert {m["media_key"][:2] for m in second["includes"]["media"]} == {"3_"}
    newer = get(replay, path, **{**TWEET_PARAMS, "since_id": ids[1]}).json()
    assert [t["id"] for t in newer["data"]] == ids[:1]
    assert get(replay, path, **{**TWEET_PARAMS, "since_id": ids[0]}).json() == {
        "meta": {"result_count": 0}
    }
    bad = get(replay, path, **{**TWEET_PARAMS, "pagination_token": "zzz"})
    assert bad.status_code == 400


def test_x_text_entities_and_escaping(replay: ReplayServer) -> None:
    dia = dia_world(replay.world, posts=1)
    (post,) = [p for p in replay.world.timeline(dia) if p.text.startswith("Post 0")]
    tweet = get(replay, f"/2/tweets/{post.id}", **TWEET_PARAMS).json()["data"]
    assert "&amp; &lt;ailleurs&gt;" in tweet["text"]
    urls = tweet["entities"]["urls"]
    assert urls[0]["expanded_url"].startswith("https://news.example/")
    assert urls[-1]["media_key"].startswith("3_") and "/photo/1" in urls[-1]["expanded_url"]
    assert tweet["entities"]["hashtags"][0]["tag"] == "Gossi"


def test_x_lookup_reports_missing_and_deleted_references(replay: ReplayServer) -> None:
    dia = dia_world(replay.world, posts=2)
    posts = replay.world.timeline(dia)
    repost = next(p for p in posts if p.kind == "repost")
    original = replay.world.post("x", repost.repost_of or "")
    assert original is not None
    replay.world.delete_post(original)
    body = get(
        replay,
        "/2/tweets",
        ids=f"{repost.id},{original.id},1",
        **{k: v for k, v in TWEET_PARAMS.items() if k != "max_results"},
    ).json()
    assert [t["id"] for t in body["data"]] == [repost.id]
    errors = sorted(
        (e["resource_id"], e["parameter"], e.get("section", "")) for e in body["errors"]
    )
    assert errors == sorted(
        [
            (original.id, "ids", ""),
            ("1", "ids", ""),
            (original.id, "referenced_tweets.id", "includes"),
        ]
    )
    assert {e["title"] for e in body["errors"]} == {"Not Found Error"}


def test_x_quota_and_both_429_shapes(replay: ReplayServer) -> None:
    replay.world.add_account("x", "someone")
    replay.app("x").set_rate_limit("users_by_username", limit=1, window=60)  # type: ignore[attr-defined]
    ok = get(replay, "/2/users/by/username/someone")
    assert ok.headers["x-rate-limit-remaining"] == "0"
    over = get(replay, "/2/users/by/username/someone")
    assert over.status_code == 429 and over.json()["title"] == "Too Many Requests"
    replay.app("x").set_rate_limit("users_by_username", limit=10, window=60)  # type: ignore[attr-defined]
    replay.world.faults.add("rate_limit", shape="v1", reset_in=5)
    v1 = get(replay, "/2/users/by/username/someone")
    assert v1.status_code == 429 and v1.json() == {
        "errors": [{"code": 88, "message": "Rate limit exceeded"}]
    }
    assert v1.headers["x-rate-limit-remaining"] == "0"
