"""The loopback replay server: a :class:`~osint.demo.replay.world.World` served over real HTTP.

One ``ThreadingHTTPServer`` on 127.0.0.1 and a free port. Each platform module is mounted under
its own prefix (``/x/2/users/...`` for X, so ``OSINT_X_API_URL=http://127.0.0.1:PORT/x``);
``/media/<id>.<ext>`` serves the world's media for every platform. Faults from
``world.faults`` are applied on the way out; every request is logged (``requests``, with its
headers, so tests can check that Authorization arrived) and ``on_request`` is called first.

To add a platform: subclass :class:`PlatformApp` (``name``, ``setting``, ``handle``, its quotas, and
``rate_limited`` in the platform's own shape) and list it in ``osint.demo.replay.PLATFORM_APPS``.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from osint.demo.replay.quota import Quotas
from osint.demo.replay.world import Fault, World

MAINTENANCE_HTML = (
    b"<!DOCTYPE html><html><head><title>Down for maintenance</title></head>"
    b"<body><h1>We'll be back soon</h1><p>Please try again later.</p></body></html>"
)


@dataclass
class ReplayRequest:
    method: str
    platform: str
    path: str  # after the platform prefix, e.g. /2/users/by/username/name
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    base_url: str  # server URL + platform prefix
    server_url: str
    body: bytes = b""
    fault: Fault | None = None
    query_items: list[tuple[str, str]] = field(default_factory=list)  # repeated keys kept
    media_host: str | None = None  # World.media_base: media served by another server

    @property
    def media_base(self) -> str:
        return self.media_host or f"{self.server_url}/media"


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    length: int | None = None  # declared Content-Length of a streamed body (None: until close)


def json_reply(obj: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(status, body, headers=list(headers))


@dataclass
class LoggedRequest:
    method: str
    platform: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    target: str = ""  # the request target exactly as it came over the wire (path and query)


class PlatformApp:
    """One platform's API, rendered from the world. Subclasses set ``name`` and ``setting``."""

    name: ClassVar[str]
    setting: ClassVar[str]  # the osint Settings field that points a collector here
    # Requests per window: by endpoint name (the names ``handle`` counts under), else fallback.
    quota_limits: ClassVar[dict[str, tuple[int, float]]] = {}
    quota_fallback: ClassVar[tuple[int, float]] = (10_000, 60.0)

    def __init__(self, world: World) -> None:
        self.world = world
        self.quotas = Quotas(self.quota_limits, self.quota_fallback)

    def set_rate_limit(self, endpoint: str, limit: int, window: float) -> None:
        """Quota of one endpoint (tests make it small to reach the platform's 429)."""
        self.quotas.set(endpoint, limit, window)

    def handle(self, request: ReplayRequest) -> Reply:
        return json_reply({"error": "not found"}, 404)

    def rate_limited(self, request: ReplayRequest, fault: Fault) -> Reply:
        reset = int(time.time() + fault.reset_in + 0.999)
        return json_reply(
            {"error": "Too Many Requests"},
            429,
            [("Retry-After", str(max(int(fault.reset_in + 0.999), 0))), ("X-Reset", str(reset))],
        )

    def error(self, request: ReplayRequest, status: int) -> Reply:
        return json_reply({"error": f"HTTP {status}"}, status)

    def echo_token(self, request: ReplayRequest, status: int) -> Reply:
        """An error that quotes the caller's credentials back (a hostile or careless server)."""
        token = caller_token(request)
        return json_reply(
            {"error": f"invalid request for token {token}", "detail": f"token {token} refused"},
            status,
            [("X-Echo", token)],
        )


def caller_token(request: ReplayRequest) -> str:
    """The bearer token (or access_token parameter) the request came with."""
    header = request.headers.get("authorization", "")
    return header[7:] if header.startswith("Bearer ") else request.query.get("access_token", "")


def echo_in_media(request: ReplayRequest, url: str) -> str:
    """A media URL with the caller's token in it, under an ``echo_token`` fault."""
    fault = request.fault
    if fault is None or fault.kind != "echo_token" or not caller_token(request):
        return url
    return f"{url}?sig={caller_token(request)}"


class MediaApp(PlatformApp):
    """``/media/<id>.<ext>`` and ``/media/profile_images/<id>_normal.<ext>``: the media host."""

    name = "media"
    setting = ""
    _PATH = re.compile(r"^/(?:profile_images/)?(\d+)(?:_normal|_400x400)?\.(\w+)$")

    def handle(self, request: ReplayRequest) -> Reply:
        match = self._PATH.match(request.path)
        media = self.world.media.get(match.group(1)) if match else None
        if media is None or (match and match.group(2) == "mp4"):
            return Reply(404, b"Not Found", "text/plain")
        if media.redirect:
            return Reply(302, b"", "text/plain", [("Location", media.redirect)])
        return Reply(200, media.data, media.content_type, [("Cache-Control", "max-age=604800")])

    def error(self, request: ReplayRequest, status: int) -> Reply:
        return Reply(status, f"error {status}".encode(), "text/plain")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    replay: ReplayServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # client hang-ups are expected (faults, byte caps); app errors are in replay.errors


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    body = b""

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without NODELAY, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.replay.dispatch(self, "GET")

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "0")
        self.body = self.rfile.read(int(length)) if length.isdigit() else b""
        self.server.replay.dispatch(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        return "osint-replay"


class ReplayServer:
    """Serves ``world`` on 127.0.0.1; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        world: World | None = None,
        *,
        apps: Iterable[type[PlatformApp]] | None = None,
        latency: float = 0.0,
        port: int = 0,
    ) -> None:
        from osint.demo.replay import PLATFORM_APPS

        self.world = world or World()
        self.latency = latency
        self.port = port  # 0: any free port; a fixed one lets a test stop and restart a host
        classes: list[type[PlatformApp]] = [MediaApp, *(apps or PLATFORM_APPS)]
        self.apps: dict[str, PlatformApp] = {app.name: app(self.world) for app in classes}
        self.requests: list[LoggedRequest] = []
        self.errors: list[str] = []  # tracebacks of app bugs (answered 500)
        self.on_request: Callable[[LoggedRequest], None] | None = None
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._log_lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> ReplayServer:
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.replay = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the replay server is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def base_url(self, platform: str) -> str:
        return f"{self.url}/{platform}"

    def settings_overrides(self) -> dict[str, str]:
        """Settings fields pointing every collector at this server (``Settings.with_overrides``)."""
        return {app.setting: self.base_url(name) for name, app in self.apps.items() if app.setting}

    def app(self, name: str) -> PlatformApp:
        return self.apps[name]

    # -- serving ------------------------------------------------------------------------------
    def dispatch(self, handler: _Handler, method: str) -> None:
        split = urlsplit(handler.path)
        platform, _, rest = split.path.lstrip("/").partition("/")
        request = ReplayRequest(
            method=method,
            platform=platform,
            path="/" + rest,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in handler.headers.items()},
            base_url=self.base_url(platform),
            server_url=self.url,
            body=handler.body,
            query_items=parse_qsl(split.query, keep_blank_values=True),
            media_host=self.world.media_base,
        )
        logged = LoggedRequest(
            method,
            platform,
            request.path,
            request.query,
            request.headers,
            time.time(),
            handler.path,
        )
        with self._log_lock:
            self.requests.append(logged)
        if self.on_request is not None:
            self.on_request(logged)
        if self.latency:
            self._stopping.wait(self.latency)
        reply = self._answer(request)
        try:
            self._send(handler, reply, request.fault)
        except (TimeoutError, BrokenPipeError, ConnectionResetError, OSError):
            handler.close_connection = True

    def _answer(self, request: ReplayRequest) -> Reply:
        app = self.apps.get(request.platform)
        if app is None:
            return Reply(404, b"no such platform on this replay server", "text/plain")
        fault = request.fault = self.world.faults.take(request.platform, request.path)
        try:
            if fault is not None and fault.kind == "slow":
                self._stopping.wait(fault.delay)
            if fault is not None and fault.kind == "rate_limit":
                return app.rate_limited(request, fault)
            if fault is not None and fault.kind == "status":
                reply = app.error(request, fault.status)
                reply.headers.extend(fault.headers)
                return reply
            if fault is not None and fault.kind == "body":
                return Reply(200, fault.body, headers=list(fault.headers))
            if fault is not None and fault.kind == "echo_token" and fault.status >= 400:
                return app.echo_token(request, fault.status)
            if fault is not None and fault.kind == "html":
                return Reply(200, MAINTENANCE_HTML, "text/html; charset=utf-8")
            with self.world.lock:
                reply = app.handle(request)
        except Exception:
            self.errors.append(traceback.format_exc())
            return Reply(500, b"replay server error (see ReplayServer.errors)", "text/plain")
        if fault is not None and fault.kind == "endless":
            reply = Reply(200, _endless(), reply.content_type, length=fault.length)
        body = reply.body.rstrip() if isinstance(reply.body, bytes) else b""
        if fault is not None and fault.kind == "duplicate_key" and body.endswith(b"}"):
            empty = json.dumps({fault.key: []})[1:-1].encode()
            reply.body = body[:-1] + b"," + empty + b"}"
        if fault is not None and fault.kind == "slowloris" and isinstance(reply.body, bytes):
            reply = Reply(
                reply.status,
                self._trickle(reply.body, fault.delay),
                reply.content_type,
                reply.headers,
                length=len(reply.body),
            )
        return reply

    def _trickle(self, body: bytes, delay: float) -> Iterator[bytes]:
        for index in range(len(body)):
            if self._stopping.wait(delay):
                return
            yield body[index : index + 1]

    def _send(self, handler: _Handler, reply: Reply, fault: Fault | None) -> None:
        body = reply.body
        handler.send_response(reply.status)
        handler.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            handler.send_header(name, value)
        if isinstance(body, bytes):
            if fault is not None and fault.kind == "truncated":
                body = body[: len(body) // 2]
            handler.send_header("Content-Length", str(len(body)))
            if fault is not None and fault.kind == "drop":
                handler.send_header("Connection", "close")
                handler.end_headers()
                handler.wfile.write(body[: len(body) // 2])
                handler.wfile.flush()
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
                return
            handler.end_headers()
            handler.wfile.write(body)
            return
        if reply.length is not None:
            handler.send_header("Content-Length", str(reply.length))
        handler.send_header("Connection", "close")
        handler.close_connection = True
        handler.end_headers()
        for chunk in body:
            if self._stopping.is_set():
                return
            handler.wfile.write(chunk)


def _endless(chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    chunk = b"\xff\xd8\xff\xe0" + b"\0" * (chunk_size - 4)
    filler = b"\0" * chunk_size
    yield chunk
    while True:
        yield filler
