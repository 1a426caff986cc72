"""Notifications arrive at a local webhook receiver and through a command, never holding up runs."""

from __future__ import annotations

import json
import shlex
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from osint.demo.replay import ReplayServer
from osint.errors import InputError
from osint.monitor import Notifier
from tests.conftest import CliRun
from tests.demo.replay.worlds import dia_world
from tests.monitor.test_jobs import _make_all_due


class Receiver:
    """A tiny webhook receiver: answers each POST with the next status of ``statuses`` (then 200)."""

    def __init__(self, statuses: list[int] | None = None, delay: float = 0.0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.statuses = list(statuses or [])
        self.delay = delay
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.bodies.append(json.loads(body))
                    receiver.headers.append(dict(self.headers))
                    receiver.arrived.set()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(statuses=[503]) as running:
        yield running


def test_webhook_retries_and_delivers_in_order(receiver: Receiver) -> None:
    logged: list[str] = []
    with Notifier(url=receiver.url, backoff=0.01, log=logged.append) as notifier:
        for n in range(3):
            notifier.send({"event_id": n, "kind": "post_new"})
    assert [b["event_id"] for b in receiver.bodies] == [0, 1, 2]  # the 503 was retried
    assert receiver.headers[0]["Content-Type"] == "application/json"
    assert receiver.headers[0]["User-Agent"].startswith("osint/")
    assert notifier.delivered == 3 and notifier.failed == 0 and logged == []


def test_a_slow_or_dead_receiver_never_blocks_the_sender(tmp_path: Path) -> None:
    logged: list[str] = []
    with Receiver(delay=1.0) as slow:
        notifier = Notifier(url=slow.url, timeout=5, log=logged.append)
        started = time.monotonic()
        for n in range(5):
            notifier.send({"event_id": n})
        assert time.monotonic() - started < 0.2
        notifier.close(timeout=0.5)  # shutdown gives up on what is left, and says so
    assert notifier.delivered < 5 and "not delivered before shutdown" in logged[-1]
    logged.clear()
    dead = Notifier(url="http://127.0.0.1:9/hook", retries=2, backoff=0.01, log=logged.append)
    dead.send({"event_id": 7})
    dead.close()
    assert dead.failed == 1 and "event 7 not delivered" in logged[0]
    with pytest.raises(InputError, match="http"):
        Notifier(url="ftp://example.org/")


def test_monitor_run_notifies_webhook_and_command(
    run_cli: CliRun,
    replay: ReplayServer,
    receiver: Receiver,
    home: Path,
    x_cli_env: None,
) -> None:
    dia = dia_world(replay.world, posts=3)
    run_cli("case", "new", "c")
    run_cli("monitor", "add", "x", "dia_diarra", "--case", "c", "--every", "1h")
    run_cli("monitor", "run", "--once")
    post = replay.world.add_post(dia, "Un message à signaler")
    replay.world.update_account(dia, bio="Nouvelle bio")
    _make_all_due(run_cli)
    inbox = home / "inbox.jsonl"
    script = (
        "import sys, pathlib; "
        f"pathlib.Path({str(inbox)!r}).open('a').write(sys.stdin.read() + chr(10))"
    )
    command = shlex.join([sys.executable, "-c", script])
    result = run_cli(
        "monitor", "run", "--once", "--notify-url", receiver.url, "--notify-cmd", command
    )
    assert len(result.stdout.strip().splitlines()) == 2
    kinds = sorted(b["kind"] for b in receiver.bodies)
    assert kinds == ["post_new", "profile_changed"]
    new = next(b for b in receiver.bodies if b["kind"] == "post_new")
    assert new["post_id"] == post.id and new["after"]["text"].startswith("Un message")
    assert new["after_capture"]["sha256"]
    piped = [json.loads(line) for line in inbox.read_text(encoding="utf-8").splitlines()]
    assert sorted(p["event_id"] for p in piped) == sorted(b["event_id"] for b in receiver.bodies)
    profile = next(p for p in piped if p["kind"] == "profile_changed")
    assert profile["before"]["bio"] == "Malienne. Vérité pour Gossi"
    assert profile["after"]["bio"] == "Nouvelle bio"
