"""The HTTP choke point: rate-limit headers, retries, caps, redirects and redaction."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from osint.collectors.http import Exchange, HttpClient, capture_record
from osint.collectors.ratelimit import RateBudget, parse_rate_limit, parse_reset
from osint.collectors.redact import REDACTED, redact_headers, redact_url
from osint.config import Settings
from osint.demo.replay import ReplayServer
from osint.errors import CollectError, RateLimited

NOW = 1_700_000_000.0


# -- header parsing (pure) -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1700000100", 1_700_000_100.0),  # X: epoch seconds
        ("1700000100000", 1_700_000_100.0),  # epoch milliseconds
        ("30", NOW + 30),  # IETF draft / Bluesky style delta seconds
        ("2023-11-14T22:15:00.000Z", datetime(2023, 11, 14, 22, 15, tzinfo=UTC).timestamp()),
        ("2023-11-14T22:15:00+00:00", datetime(2023, 11, 14, 22, 15, tzinfo=UTC).timestamp()),
        ("Tue, 14 Nov 2023 22:15:00 GMT", datetime(2023, 11, 14, 22, 15, tzinfo=UTC).timestamp()),
        ("soon", None),
        ("", None),
    ],
)
def test_parse_reset(value: str, expected: float | None) -> None:
    assert parse_reset(value, NOW) == expected


def test_rate_headers_of_each_platform() -> None:
    x = parse_rate_limit(
        httpx.Headers({"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1700000060"}), NOW
    )
    assert (x.remaining, x.reset_at) == (0, 1_700_000_060.0)
    mastodon = parse_rate_limit(
        httpx.Headers(
            {"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "2023-11-14T22:15:00.000000Z"}
        ),
        NOW,
    )
    assert mastodon.remaining == 3
    assert mastodon.reset_at == datetime(2023, 11, 14, 22, 15, tzinfo=UTC).timestamp()
    bluesky = parse_rate_limit(
        httpx.Headers({"ratelimit-remaining": "0", "ratelimit-reset": "1700000030"}), NOW
    )
    assert (bluesky.remaining, bluesky.reset_at) == (0, 1_700_000_030.0)
    retry = parse_rate_limit(httpx.Headers({"Retry-After": "12"}), NOW)
    assert retry.retry_at == NOW + 12 and retry.remaining is None


def test_redaction() -> None:
    url = "https://api.example/v1/x?access_token=abc123&pagination_token=keep&q=a,b"
    assert redact_url(url) == (
        f"https://api.example/v1/x?access_token={REDACTED}&pagination_token=keep&q=a,b"
    )
    assert "s3cret" not in redact_url("https://u:s3cret@h.example/p")
    assert "tok9secretvalue" not in redact_url(
        "https://h.example/tok9secretvalue/feed", ["tok9secretvalue"]
    )
    headers = redact_headers(
        [
            ("Authorization", "Bearer tok9secretvalue"),
            ("Cookie", "a=b"),
            ("X-Echo", "has tok9secretvalue in it"),
        ],
        ["tok9secretvalue"],
    )
    assert headers == [
        ("Authorization", REDACTED),
        ("Cookie", REDACTED),
        ("X-Echo", f"has {REDACTED} in it"),
    ]


# -- against the replay server ---------------------------------------------------------------
@pytest.fixture
def client(x_settings: Settings) -> Any:
    with HttpClient(x_settings) as http:
        yield http


def media_url(replay: ReplayServer, media_id: str) -> str:
    return f"{replay.url}/media/{media_id}.jpg"


def test_get_retries_5xx_and_keeps_every_attempt(client: HttpClient, replay: ReplayServer) -> None:
    image = replay.world.add_image()
    replay.world.faults.add("status", status=503, times=2, platform="media")
    download = client.download(media_url(replay, image.id), max_bytes=10**6)
    assert download.status_code == 200 and download.size == len(image.data)
    assert [c.status_code for c in client.drain_captures()] == [503, 503, 200]


def test_gives_up_after_the_retry_budget(client: HttpClient, replay: ReplayServer) -> None:
    replay.world.faults.add("status", status=500, times=99, platform="media")
    with pytest.raises(CollectError, match="after 4 attempts: HTTP 500"):
        client.get(media_url(replay, "1"))
    assert len(client.drain_captures()) == 4


def test_dropped_and_slow_connections_are_retried(client: HttpClient, replay: ReplayServer) -> None:
    image = replay.world.add_image()
    replay.world.faults.add("drop", platform="media")
    replay.world.faults.add("slow", delay=3.0, platform="media")
    started = time.monotonic()
    download = client.download(media_url(replay, image.id), max_bytes=10**6)
    assert download.status_code == 200 and b"".join(download.chunks()) == image.data
    assert time.monotonic() - started < 2.5  # the 1 s timeout cut the slow answer short
    captures = client.drain_captures()
    assert captures[0].status_code == 200 and "RemoteProtocolError" in (captures[0].error or "")
    assert captures[1].status_code is None and "Timeout" in (captures[1].error or "")


def test_malformed_json_is_retried_as_transient(client: HttpClient, replay: ReplayServer) -> None:
    replay.world.add_account("x", "someone")
    replay.world.faults.add("truncated", path="/users/by/")
    replay.world.faults.add("html", path="/users/by/")
    response = client.get(
        f"{replay.base_url('x')}/2/users/by/username/someone",
        headers={"Authorization": "Bearer test-bearer-AAAAxyz0987654321-secret"},
        expect_json=True,
    )
    assert response.json()["data"]["username"] == "someone"
    assert [c.content_type for c in client.drain_captures()][:2] == [
        "application/json; charset=utf-8",
        "text/html; charset=utf-8",
    ]


def test_download_cap_declared_and_streamed(client: HttpClient, replay: ReplayServer) -> None:
    image = replay.world.add_image()
    replay.world.faults.add("endless", platform="media")  # declares 10 GB
    declared = client.download(media_url(replay, image.id), max_bytes=50_000)
    assert declared.truncated and declared.size == 0  # refused on the header alone
    replay.world.faults.add("endless", platform="media", length=None)  # no length: streamed
    streamed = client.download(media_url(replay, image.id), max_bytes=50_000)
    assert streamed.truncated and streamed.size == 50_000
    captures = client.drain_captures()
    assert "10,737,418,240 bytes" in (captures[0].error or "")
    assert "50,000-byte cap" in (captures[1].error or "")


def test_rate_limit_wait_and_refusal(x_settings: Settings, replay: ReplayServer) -> None:
    replay.world.add_account("x", "someone")
    url = f"{replay.base_url('x')}/2/users/by/username/someone"
    auth = {"Authorization": "Bearer test-bearer-AAAAxyz0987654321-secret"}
    waits: list[float] = []
    with HttpClient(x_settings, sleep=lambda s: (waits.append(s), time.sleep(s))[1]) as http:
        replay.world.faults.add("rate_limit", path="/users/by/", reset_in=0.2)
        assert http.get(url, headers=auth).status_code == 200
        assert waits and 0 < max(waits) <= 1.5
    with HttpClient(x_settings.with_overrides(max_rate_wait=0.5)) as http:
        replay.world.faults.add("rate_limit", path="/users/by/", reset_in=30)
        with pytest.raises(RateLimited, match="resets only at"):
            http.get(url, headers=auth)


def test_exhausted_window_blocks_the_bucket_not_the_host(
    x_settings: Settings, replay: ReplayServer
) -> None:
    budget = RateBudget()
    budget.block_until("x:user_tweets", time.time() + 3600)
    image = replay.world.add_image()
    with HttpClient(x_settings, budget=budget) as http:
        assert http.download(media_url(replay, image.id), max_bytes=10**6).status_code == 200
        with pytest.raises(RateLimited, match="allows no more requests"):
            http.get(f"{replay.base_url('x')}/2/users/1/tweets", bucket="x:user_tweets")


def test_minimum_interval_per_host(x_settings: Settings, replay: ReplayServer) -> None:
    image = replay.world.add_image()
    with HttpClient(x_settings.with_overrides(http_min_interval=0.2)) as http:
        started = time.monotonic()
        for _ in range(3):
            http.download(media_url(replay, image.id), max_bytes=10**6)
        assert time.monotonic() - started >= 0.4


# -- parsing with MockTransport (no server needed) -------------------------------------------
def test_redirects_are_followed_captured_and_lose_credentials(settings: Settings) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "a.example":
            return httpx.Response(302, headers={"Location": "https://b.example/final"})
        return httpx.Response(200, json={"ok": True})

    quick = settings.with_overrides(http_min_interval=0.0)
    with HttpClient(quick, transport=httpx.MockTransport(answer)) as http:
        response = http.get("https://a.example/start", headers={"Authorization": "Bearer t"})
        captures = http.drain_captures()
    assert response.json() == {"ok": True} and response.redirects == ["https://a.example/start"]
    assert [c.status_code for c in captures] == [302, 200]
    assert "authorization" in seen[0].headers and "authorization" not in seen[1].headers
    assert seen[0].headers["user-agent"].startswith("osint/")


def test_gzip_bodies_are_kept_raw_and_decoded_for_parsing(settings: Settings) -> None:
    import gzip
    import hashlib

    raw = gzip.compress(b'{"data": 1}')

    def answer(request: httpx.Request) -> httpx.Response:
        stream = httpx.ByteStream(raw)  # a streamed body, as a real transport gives
        return httpx.Response(200, stream=stream, headers={"Content-Encoding": "gzip"})

    quick = settings.with_overrides(http_min_interval=0.0)
    with HttpClient(quick, transport=httpx.MockTransport(answer)) as http:
        response = http.get("https://h.example/", expect_json=True)
        capture = http.drain_captures()[0]
    assert response.json() == {"data": 1}
    assert capture.sha256 == hashlib.sha256(raw).hexdigest() and capture.size == len(raw)


def test_capture_record_of_a_failed_exchange() -> None:
    exchange = Exchange("GET", "https://h.example/", [], datetime(2024, 1, 1, tzinfo=UTC))
    exchange.error = "ConnectError: refused"
    record = capture_record(exchange)
    assert record.status_code is None and record.error == "ConnectError: refused"
    assert record.size == 0


# -- issue 21: a body at a few bytes a second, absurd headers, hostile addresses --------------
def test_a_trickling_body_is_cut_by_the_overall_deadline(
    x_settings: Settings, replay: ReplayServer
) -> None:
    image = replay.world.add_image()
    # 5 bytes/s: every read arrives well inside the 0.5 s read timeout, the whole body would
    # take minutes; the per-request deadline (3 x timeout) cuts it, the retry gets the image
    replay.world.faults.add("slowloris", delay=0.2, platform="media")
    quick = x_settings.with_overrides(http_timeout=0.5)
    started = time.monotonic()
    with HttpClient(quick) as http:
        download = http.download(media_url(replay, image.id), max_bytes=10**6)
        captures = http.drain_captures()
    assert download.status_code == 200 and b"".join(download.chunks()) == image.data
    assert time.monotonic() - started < 6
    assert "came too slowly" in (captures[0].error or "") and captures[0].size < len(image.data)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("inf", None),
        ("nan", None),
        ("-inf", None),
        ("9" * 400, None),  # float() gives inf
        ("1e400", None),
        ("1000000000", 1e9),  # epoch seconds (2001): long past, the window has reset
        (str(int(NOW) + 30 * 86400), None),  # a month ahead: not believed
        ("Tue, 14 Nov 9999 22:15:00 GMT", None),
    ],
)
def test_parse_reset_is_defensive(value: str, expected: float | None) -> None:
    assert parse_reset(value, NOW) == expected


def test_retry_after_with_hundreds_of_digits_is_ignored() -> None:
    info = parse_rate_limit(httpx.Headers({"Retry-After": "9" * 300}), NOW)
    assert info.retry_at is None
    assert parse_rate_limit(httpx.Headers({"x-rate-limit-remaining": "inf"}), NOW).remaining is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.7/avatar.png", "private-network"),
        ("http://192.168.1.1/", "private-network"),
        ("http://[fd00::1]/x.jpg", "private-network"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://0.0.0.0:8080/", "reserved"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://127.0.0.1:6379/_INFO", "scheme 'gopher'"),
    ],
)
def test_non_public_addresses_are_refused_before_any_byte(
    x_settings: Settings, replay: ReplayServer, url: str, why: str
) -> None:
    from osint.collectors.netguard import AddressRefused

    sent: list[httpx.Request] = []

    def far_side(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=b"metadata")

    client = HttpClient(x_settings, transport=httpx.MockTransport(far_side))
    with client as http, pytest.raises(AddressRefused, match=why) as err:
        http.download(url, max_bytes=10**6)
    assert url[:30] in str(err.value) and sent == []


def test_names_are_checked_after_dns_and_redirects_after_every_hop(
    x_settings: Settings, replay: ReplayServer
) -> None:
    from osint.collectors.netguard import AddressRefused

    resolved = {
        "cdn.hostile.example": ["93.184.216.34"],
        "meta.hostile.example": ["169.254.169.254"],
    }
    sent: list[str] = []

    def far_side(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://meta.hostile.example/latest/"})

    with HttpClient(x_settings, transport=httpx.MockTransport(far_side)) as http:
        http.guard.resolve = lambda host, port: resolved.get(host, [])
        with pytest.raises(AddressRefused, match=r"resolves to 169\.254\.169\.254") as err:
            http.download("https://cdn.hostile.example/a.jpg", max_bytes=10**6)
        with pytest.raises(AddressRefused, match=r"redirected|handed out"):
            http.download("http://meta.hostile.example/x", max_bytes=10**6)
    assert "meta.hostile.example" in str(err.value)
    assert sent == ["https://cdn.hostile.example/a.jpg"]  # the redirect target was never asked


def test_the_platforms_own_network_is_allowed_and_only_its_class(
    x_settings: Settings, replay: ReplayServer
) -> None:
    from osint.collectors.netguard import AddressRefused, NetworkGuard

    image = replay.world.add_image()
    with HttpClient(x_settings) as http:  # the replay server (the platforms' base) is loopback
        assert http.download(media_url(replay, image.id), max_bytes=10**6).status_code == 200
        with pytest.raises(AddressRefused, match="link-local"):
            http.download("http://169.254.169.254/", max_bytes=10**6)
    public = NetworkGuard(resolve=lambda host, port: ["93.184.216.34"])
    public.allow_network_of("https://api.x.com")
    with pytest.raises(AddressRefused, match="loopback"):
        public.check(media_url(replay, image.id))  # a public platform may not point at 127.0.0.1
