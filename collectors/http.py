"""The one HTTP choke point of every collector.

Everything a collector fetches goes through :class:`HttpClient`: timeouts; retries with
exponential backoff and jitter on network errors, 5xx and malformed bodies; rate limits read from
the platform's own headers (X ``x-rate-limit-*`` epoch seconds, Mastodon ``X-RateLimit-Reset``
ISO-8601, Bluesky ``ratelimit-*``, ``Retry-After`` everywhere) and waited out up to
``settings.max_rate_wait``; a polite minimum interval per host; a User-Agent naming osint; bodies
streamed under a byte cap. Every response, including errors and each redirect hop, is handed to
the capture hook (see :mod:`collectors.capture`) before anyone reads it.

Secrets never leave this module unredacted: Authorization-like headers and token-like query
parameters are replaced by ``[redacted]`` in what the hook, the logs and error messages see.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import random
import ssl
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import certifi
import httpx

import osint
from osint.collectors.netguard import NetworkGuard
from osint.collectors.ratelimit import RateBudget, RateInfo, parse_rate_limit
from osint.collectors.redact import (
    REDACTED,
    SECRET_HEADERS,
    redact_headers,
    redact_url,
    scrub,
    scrub_bytes,
)
from osint.config import Settings
from osint.errors import CollectError, RateLimited
from osint.storage.records import CaptureRecord

log = logging.getLogger(__name__)

USER_AGENT = f"osint/{osint.__version__} (evidence collection; https://pypi.org/project/osint/)"
MAX_PAGE_BYTES = 64 * 1024 * 1024  # an API page or HTML page larger than this is not a page
CHUNK = 64 * 1024
MAX_REDIRECTS = 5
MAX_BACKOFF = 60.0
# An overall deadline per request, whatever the per-read timeout: a body that trickles in (a
# slowloris server, 1 byte/s) is cut after DEADLINE_TIMEOUTS x http_timeout, plus the time its
# bytes would take at MIN_RATE bytes/s (so a large image on a slow but honest link still arrives).
DEADLINE_TIMEOUTS = 3.0
MIN_RATE = 128 * 1024
# A per-host circuit breaker for media hosts: after this many connection failures in a row, the
# host is not asked again in this run (its media stay pending for the next one).
BREAKER_FAILURES = 3
CONNECT_TIMEOUT = 10.0  # at most; an unreachable host should cost seconds, not minutes
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# the Settings fields holding a platform's base URL (Collector.base_url_setting of each one)
PLATFORM_URL_SETTINGS = ("x_api_url", "telegram_url", "bluesky_api_url", "mastodon_instance_url")


# -- what the hook and the callers get -------------------------------------------------------
@dataclass
class Exchange:
    """One request and what came back (nothing, when the network failed): the hook's input."""

    method: str
    url: str  # redacted
    request_headers: list[tuple[str, str]]  # redacted
    started_at: datetime
    status_code: int | None = None
    reason: str = ""
    http_version: str = "HTTP/1.1"
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: IO[bytes] = field(default_factory=io.BytesIO)  # raw bytes as received
    size: int = 0
    sha256: str = hashlib.sha256(b"").hexdigest()
    truncated: str | None = None  # "length" (cut at the cap), "time" (deadline) or "disconnect"
    error: str | None = None
    # secrets the server echoed, replaced by [redacted] in the kept headers and body (and how
    # the body was changed to do it): the WARC file keeps a record of it
    redactions: int = 0
    redaction_note: str | None = None


CaptureHook = Callable[[Exchange], CaptureRecord]


@dataclass
class Response:
    """A fully received API or HTML page (decoded), with the capture that keeps it."""

    url: str
    status_code: int
    headers: httpx.Headers
    content: bytes
    fetched_at: datetime
    capture: CaptureRecord | None = None
    redirects: list[str] = field(default_factory=list)  # URLs that redirected here, in order

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def json_or_none(self) -> Any:
        """The JSON body, or None when the body is not JSON (an error page, a cut body)."""
        try:
            return self.json()
        except ValueError:
            return None


@dataclass
class Download:
    """A streamed file (media); ``file`` holds the bytes, unless ``truncated``."""

    url: str
    status_code: int
    headers: httpx.Headers
    file: IO[bytes]
    size: int
    sha256: str
    fetched_at: datetime
    truncated: bool = False
    capture: CaptureRecord | None = None

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("content-type")
        return value.split(";")[0].strip().lower() if value else None

    def chunks(self) -> Iterator[bytes]:
        self.file.seek(0)
        yield from iter(lambda: self.file.read(CHUNK), b"")

    def close(self) -> None:
        self.file.close()


@dataclass
class _Received:
    exchange: Exchange
    headers: httpx.Headers
    capture: CaptureRecord | None
    decoded: bool = False  # httpx had already read (and decoded) the body


class HostUnreachable(CollectError):
    """A host that failed to connect too often in a row this run: not asked again until the next."""


class _Malformed(Exception):
    """A 2xx body the caller could not use (truncated JSON, HTML instead of JSON): retried."""


def _decode(raw: bytes, encoding: str | None, limit: int) -> bytes:
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise _Malformed(f"unsupported Content-Encoding {encoding!r}")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, auto-detected
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise _Malformed(f"corrupt {encoding} body: {exc}") from exc
    if len(out) > limit:
        raise _Malformed(f"body inflates past the {limit:,}-byte cap")
    return out


def _spool() -> IO[bytes]:
    # A download's bytes live beyond this call (the engine stores them), so no context manager.
    return tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)


def capture_record(exchange: Exchange) -> CaptureRecord:
    """The chain-of-custody record of an exchange, without a WARC location."""
    content_type = dict((k.lower(), v) for k, v in exchange.response_headers).get("content-type")
    error = exchange.error
    if exchange.truncated and not error:
        error = f"body truncated ({exchange.truncated})"
    return CaptureRecord(
        url=exchange.url,
        fetched_at=exchange.started_at,
        sha256=exchange.sha256,
        size=exchange.size,
        status_code=exchange.status_code,
        content_type=content_type[:255] if content_type else None,
        method=exchange.method,
        error=error,
    )


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key[:40]!r} appears twice in one object")
            seen.add(key)
    return obj


def parse_json(content: bytes) -> Any:
    """The JSON of a page; ValueError also for an object with a key twice (which one wins is
    undefined, and a server that repeats ``data`` empties the page)."""
    return json.loads(content, object_pairs_hook=_no_duplicate_keys)


def _check_json(content: bytes, shape: Callable[[Any], None] | None = None) -> None:
    try:
        parsed = parse_json(content)
    except RecursionError as exc:
        raise _Malformed("JSON nested too deeply to read") from exc
    except ValueError as exc:
        snippet = content[:40].decode("utf-8", errors="replace").strip()
        raise _Malformed(f"not JSON ({exc}; starts with {snippet!r})") from exc
    if shape is not None:
        try:
            shape(parsed)
        except ValueError as exc:
            raise _Malformed(f"not the documented shape: {exc}") from exc


def _checked(check: Callable[[bytes], None]) -> Callable[[bytes], None]:
    def validate(content: bytes) -> None:
        try:
            check(content)
        except ValueError as exc:
            raise _Malformed(str(exc)) from exc

    return validate


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context per process: loading the CA bundle costs ~0.1 s each time."""
    return ssl.create_default_context(cafile=certifi.where())


class HttpClient:
    """Fetches for one collection run; ``captures`` holds what was captured since the last drain."""

    def __init__(
        self,
        settings: Settings,
        *,
        capture: CaptureHook | None = None,
        secrets: Iterable[str] = (),
        budget: RateBudget | None = None,
        notify: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.capture_hook = capture
        self.secrets = [s for s in secrets if s]
        self.budget = budget or RateBudget()
        self.guard = NetworkGuard()
        for name in PLATFORM_URL_SETTINGS:  # the platforms' own networks are allowed
            if configured := getattr(settings, name, None):
                self.guard.trust(str(configured))
        self._blocked_by: dict[str, str] = {}  # bucket -> what the server said (HTTP 503 ...)
        self._connect_failures: dict[str, int] = {}  # host -> connection failures in a row
        self.open_circuits: dict[str, str] = {}  # host -> why it is not asked again this run
        self.notify = notify or (lambda message: None)
        self.sleep = sleep
        self.captures: list[CaptureRecord] = []
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                settings.http_timeout, connect=min(settings.http_timeout, CONNECT_TIMEOUT)
            ),
            verify=_ssl_context(),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=False,
            transport=transport,
        )

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def drain_captures(self) -> list[CaptureRecord]:
        """The captures made since the last call, in order (the engine stores them per page)."""
        drained, self.captures = self.captures, []
        return drained

    # -- public verbs ------------------------------------------------------------------------
    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        bucket: str | None = None,
        expect_json: bool = False,
        check: Callable[[bytes], None] | None = None,
        shape: Callable[[Any], None] | None = None,
        follow_redirects: bool = True,
        max_bytes: int = MAX_PAGE_BYTES,
    ) -> Response:
        """GET a page, fully read and decoded; with ``expect_json`` a non-JSON 2xx is retried.

        ``check`` vets a 2xx body the caller cannot parse as JSON (an HTML page): a ``ValueError``
        from it means the body is malformed (cut short, a maintenance page) and is retried too.
        ``shape`` does the same for the parsed JSON of a 2xx page (``null`` where a list of posts
        belongs): retried, and in the end a :class:`CollectError` the user sees.
        """
        validate: Callable[[bytes], None] | None = None
        if expect_json:
            validate = functools.partial(_check_json, shape=shape)
        elif check:
            validate = _checked(check)
        received, content, final_url, hops = self._follow(
            url, params, headers, bucket, max_bytes, False, validate, follow_redirects
        )
        ex = received.exchange
        return Response(
            url=final_url,
            status_code=ex.status_code or 0,
            headers=received.headers,
            content=content or b"",
            fetched_at=ex.started_at,
            capture=received.capture,
            redirects=hops,
        )

    def download(
        self,
        url: str,
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        bucket: str | None = None,
        breaker: bool = False,
    ) -> Download:
        """Stream a file to a temporary spool, stopping at ``max_bytes`` (``truncated``).

        With ``breaker``, a host that fails to connect :data:`BREAKER_FAILURES` times in a row
        raises :class:`HostUnreachable` then and for every later download from it in this run.
        """
        wanted = {"Accept-Encoding": "identity", **(headers or {})}
        received, _, final_url, _ = self._follow(
            url, None, wanted, bucket, max_bytes, True, None, True, breaker
        )
        ex = received.exchange
        return Download(
            url=final_url,
            status_code=ex.status_code or 0,
            headers=received.headers,
            file=ex.body,
            size=ex.size,
            sha256=ex.sha256,
            fetched_at=ex.started_at,
            truncated=ex.truncated == "length",
            capture=received.capture,
        )

    # -- redirects, retries, rate limits ---------------------------------------------------
    def _follow(
        self,
        url: str,
        params: Mapping[str, str | int] | None,
        headers: Mapping[str, str] | None,
        bucket: str | None,
        max_bytes: int,
        spool: bool,
        validate: Callable[[bytes], None] | None,
        follow: bool,
        breaker: bool = False,
    ) -> tuple[_Received, bytes | None, str, list[str]]:
        first_host = urlsplit(url).netloc
        hops: list[str] = []
        wanted = dict(headers or {})
        for _ in range(MAX_REDIRECTS + 1):
            try:
                self.guard.check(url)  # before httpx reads it (it would drop a file: scheme)
            except CollectError as exc:
                exc.message = scrub(exc.message, self.secrets)
                raise
            request = self._client.build_request("GET", url, params=params, headers=wanted)
            received, content = self._request(request, bucket, max_bytes, spool, validate, breaker)
            status = received.exchange.status_code
            location = received.headers.get("location")
            if not (follow and status in _REDIRECTS and location):
                return received, content, str(request.url), hops
            received.exchange.body.close()
            hops.append(str(request.url))
            url, params = urljoin(str(request.url), location), None
            if urlsplit(url).netloc != first_host:  # never hand our credentials to another host
                wanted = {k: v for k, v in wanted.items() if k.lower() not in SECRET_HEADERS}
        raise CollectError(f"too many redirects from {redact_url(hops[0], self.secrets)}")

    def _request(
        self,
        request: httpx.Request,
        bucket: str | None,
        max_bytes: int,
        spool: bool,
        validate: Callable[[bytes], None] | None,
        breaker: bool = False,
    ) -> tuple[_Received, bytes | None]:
        host = request.url.netloc.decode("ascii")
        bucket = bucket or host
        failures = rate_waits = 0
        while True:
            if breaker and host in self.open_circuits:
                raise HostUnreachable(self.open_circuits[host])
            self._wait_turn(bucket, host)
            received = self._exchange(request, max_bytes, spool)
            ex = received.exchange
            if breaker:
                self._count_connection(host, ex)
            if ex.status_code is None or ex.truncated in ("disconnect", "time"):
                failures = self._retry_or_raise(failures, ex.error or "connection failed", request)
                continue
            info = parse_rate_limit(received.headers, time.time())
            if info.remaining == 0 and info.reset_at is not None:
                self.budget.block_until(bucket, info.reset_at)
            if ex.status_code == 429 or (ex.status_code in (420, 503) and info.retry_at):
                rate_waits += 1
                self._rate_limited(info, bucket, request, rate_waits, ex.status_code)
                continue
            if ex.status_code >= 500:
                failures = self._retry_or_raise(failures, f"HTTP {ex.status_code}", request)
                continue
            if spool:
                return received, None
            try:
                content = self._content(received, max_bytes, request)
                if validate is not None and 200 <= ex.status_code < 300:
                    validate(content)
            except _Malformed as exc:
                failures = self._retry_or_raise(failures, str(exc), request)
                continue
            return received, content

    def _count_connection(self, host: str, ex: Exchange) -> None:
        """The circuit breaker: connection failures in a row per host; open past the limit."""
        if ex.status_code is not None:
            self._connect_failures.pop(host, None)
            return
        count = self._connect_failures.get(host, 0) + 1
        self._connect_failures[host] = count
        if count >= BREAKER_FAILURES:
            self.open_circuits[host] = (
                f"{host} is unreachable ({count} connection failures in a row, the last: "
                f"{ex.error or 'no response'}); its files are left pending for the next run"
            )
            raise HostUnreachable(self.open_circuits[host])

    def _content(self, received: _Received, max_bytes: int, request: httpx.Request) -> bytes:
        ex = received.exchange
        if ex.truncated == "length":
            raise CollectError(
                f"{redact_url(str(request.url), self.secrets)} sent more than "
                f"{max_bytes:,} bytes; refusing to read it as a page"
            )
        assert isinstance(ex.body, io.BytesIO)
        encoding = None if received.decoded else received.headers.get("content-encoding")
        return _decode(ex.body.getvalue(), encoding, max_bytes)

    def _wait_turn(self, bucket: str, host: str) -> None:
        reset_wait, pace_wait = self.budget.delay(bucket, host, self.settings.http_min_interval)
        if reset_wait > self.settings.max_rate_wait:
            raise RateLimited(
                f"{host} allows no more requests for {reset_wait:.0f} s",
                hint=f"run the same command again later (waits up to {self.settings.max_rate_wait:.0f} s"
                " are allowed: OSINT_MAX_RATE_WAIT)",
            )
        if reset_wait >= 1:
            said = self._blocked_by.get(bucket)
            self.notify(
                f"{host} answered {said}: waiting {reset_wait:.0f} s as it asked"
                if said
                else f"rate limit of {host} reached: waiting {reset_wait:.0f} s for its reset"
            )
        wait = max(reset_wait, pace_wait)
        if wait > 0:
            self.sleep(wait)

    def _rate_limited(
        self, info: RateInfo, bucket: str, request: httpx.Request, waits: int, status: int
    ) -> None:
        host = request.url.host
        # 429 (and X's old 420) is a rate limit; a 503 with Retry-After is an unavailable
        # server asking for time: say which, in the server's own terms
        limited = status in (420, 429)
        if waits > self.settings.http_retries + 1:
            if limited:
                message = f"{host} still refuses with HTTP {status} after {waits - 1} waits"
            else:
                message = (
                    f"{host} still answers HTTP {status} (unavailable, with Retry-After) "
                    f"after {waits - 1} waits"
                )
            raise RateLimited(
                message, hint="run the same command again later; the run resumes where it stopped"
            )
        now = time.time()
        known = [t for t in (info.retry_at, info.reset_at) if t is not None]
        until = max(known) if known else now + self._backoff(waits)
        delay = max(until - now, 0.0) + 0.05
        if delay > self.settings.max_rate_wait:
            when = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            what = (
                f"{host} rate limit resets only at {when}"
                if limited
                else f"{host} is unavailable (HTTP {status}) and asks to retry only at {when}"
            )
            raise RateLimited(
                f"{what} ({delay:.0f} s from now)",
                hint=f"run the same command again after that time, or allow longer waits "
                f"(OSINT_MAX_RATE_WAIT is {self.settings.max_rate_wait:.0f} s)",
            )
        if limited:
            self._blocked_by.pop(bucket, None)
        else:
            self._blocked_by[bucket] = f"HTTP {status} (unavailable) with Retry-After"
        log.info("%s answered HTTP %s: waiting %.1f s", host, status, delay)
        self.block_until(bucket, now + delay)

    def block_until(self, bucket: str, epoch: float) -> None:
        self.budget.block_until(bucket, epoch)

    def _retry_or_raise(self, failures: int, reason: str, request: httpx.Request) -> int:
        failures += 1
        url = redact_url(str(request.url), self.secrets)
        if failures > self.settings.http_retries:
            raise CollectError(
                f"giving up on {url} after {failures} attempts: {reason}",
                hint="the platform or the network is failing; run the same command again later, "
                "it resumes where it stopped",
            )
        delay = self._backoff(failures)
        log.info("retrying %s in %.2f s (%s)", url, delay, reason)
        self.sleep(delay)
        return failures

    def _backoff(self, attempt: int) -> float:
        growth: int = 2 ** (attempt - 1)  # typeshed: int ** int is Any (negative powers)
        ceiling = min(MAX_BACKOFF, self.settings.http_backoff * growth)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    # -- one exchange ----------------------------------------------------------------------
    def _exchange(self, request: httpx.Request, max_bytes: int, spool: bool) -> _Received:
        exchange = Exchange(
            method=request.method,
            url=redact_url(str(request.url), self.secrets),
            request_headers=redact_headers(request.headers.multi_items(), self.secrets),
            started_at=datetime.now(UTC),
            body=_spool() if spool else io.BytesIO(),
        )
        self.budget.requested(request.url.netloc.decode("ascii"))
        started = time.perf_counter()
        try:
            response = self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            exchange.error = f"{type(exc).__name__}: {scrub(str(exc), self.secrets)}"
            return self._captured(exchange, httpx.Headers(), started)
        try:
            exchange.status_code = response.status_code
            exchange.reason = response.reason_phrase
            exchange.http_version = response.http_version
            exchange.response_headers = self._scrubbed_headers(response, exchange)
            preread = response.is_stream_consumed
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                exchange.truncated = "length"
                exchange.error = (
                    f"declares {int(declared):,} bytes, over the {max_bytes:,}-byte cap"
                )
            else:
                self._read_body(response, exchange, max_bytes)
        finally:
            response.close()
        if self.secrets and exchange.size and not exchange.truncated:
            preread = self._redact_body(exchange, response.headers, preread, spool)
        received = self._captured(exchange, response.headers, started)
        received.decoded = preread
        return received

    def _scrubbed_headers(
        self, response: httpx.Response, exchange: Exchange
    ) -> list[tuple[str, str]]:
        headers = []
        for key, value in response.headers.raw:
            name, text = key.decode("latin-1"), value.decode("latin-1")
            if self.secrets:
                cleaned = scrub(text, self.secrets)
                exchange.redactions += text.count(REDACTED) != cleaned.count(REDACTED)
                text = cleaned
            headers.append((name, text))
        return headers

    def _redact_body(
        self, exchange: Exchange, headers: httpx.Headers, decoded: bool, spool: bool
    ) -> bool:
        """Replace secrets the server echoed in the body; True when the kept body is decoded."""
        exchange.body.seek(0)
        raw = exchange.body.read()
        cleaned, count = scrub_bytes(raw, self.secrets)
        encoding = (headers.get("content-encoding") or "identity").strip().lower()
        note = "in the body as received"
        if not count and not decoded and encoding not in ("identity", ""):
            try:  # a compressed body hides the secret: look inside, keep it decoded if found
                plain = _decode(raw, encoding, MAX_PAGE_BYTES)
            except _Malformed:
                plain = b""
            cleaned, count = scrub_bytes(plain, self.secrets)
            if count:
                note = f"in the {encoding}-decoded body, kept decoded (Content-Encoding dropped)"
                dropped = ("content-encoding", "content-length")
                exchange.response_headers = [
                    (k, v) for k, v in exchange.response_headers if k.lower() not in dropped
                ]
                exchange.response_headers.append(("Content-Length", str(len(cleaned))))
                decoded = True
        if not count:
            exchange.body.seek(0)
            return decoded
        body: IO[bytes] = _spool() if spool else io.BytesIO()
        body.write(cleaned)
        exchange.body.close()
        exchange.body = body
        exchange.size = len(cleaned)
        exchange.sha256 = hashlib.sha256(cleaned).hexdigest()
        exchange.redactions += count
        exchange.redaction_note = note
        return decoded

    def _read_body(self, response: httpx.Response, exchange: Exchange, max_bytes: int) -> None:
        digest = hashlib.sha256()
        size = 0
        # a response httpx has already read (an empty body, some mock transports) has no stream
        # iter_raw() without a size yields what each read brings (a size would buffer up to it,
        # and a trickling body would never reach the deadline check)
        chunks = [response.content] if response.is_stream_consumed else response.iter_raw()
        started = time.monotonic()
        allowance = DEADLINE_TIMEOUTS * self.settings.http_timeout
        try:
            for chunk in chunks:
                elapsed = time.monotonic() - started
                if elapsed > allowance + (size + len(chunk)) / MIN_RATE:
                    exchange.truncated = "time"
                    exchange.error = (
                        f"the body came too slowly: {size + len(chunk):,} bytes in "
                        f"{elapsed:.1f} s (the per-request deadline)"
                    )
                    break
                if size + len(chunk) > max_bytes:
                    chunk = chunk[: max_bytes - size]
                    exchange.truncated = "length"
                    exchange.error = f"larger than the {max_bytes:,}-byte cap"
                digest.update(chunk)
                exchange.body.write(chunk)
                size += len(chunk)
                if exchange.truncated:
                    break
        except httpx.TransportError as exc:  # connection dropped or stalled mid-body
            exchange.truncated = "disconnect"
            exchange.error = f"{type(exc).__name__}: {scrub(str(exc), self.secrets)}"
        exchange.size = size
        exchange.sha256 = digest.hexdigest()

    def _captured(self, exchange: Exchange, headers: httpx.Headers, started: float) -> _Received:
        exchange.body.seek(0)
        if self.capture_hook is not None:
            capture = self.capture_hook(exchange)
            exchange.body.seek(0)
        else:
            capture = capture_record(exchange)
        self.captures.append(capture)
        log.debug(
            "%s %s -> %s, %d bytes in %.0f ms%s",
            exchange.method,
            exchange.url,
            exchange.status_code if exchange.status_code is not None else "no response",
            exchange.size,
            (time.perf_counter() - started) * 1000,
            f" ({exchange.error})" if exchange.error else "",
        )
        return _Received(exchange, headers, capture)
