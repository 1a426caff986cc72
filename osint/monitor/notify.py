"""Notifications: each event POSTed as JSON to a webhook and/or piped to a command.

Delivery runs on a background thread behind a queue, so a slow or dead receiver never holds up
collection. A webhook is retried with exponential backoff on network errors, 5xx and 429
(honouring ``Retry-After``); a command (split like a shell would, run without one: use
``sh -c '...'`` for pipelines) gets the event JSON on stdin and a time limit. On shutdown the
queue is drained for a while, then what is left is reported as undelivered.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import shlex
import subprocess
import threading
from collections.abc import Callable
from typing import Any

import httpx

from osint.collectors.http import USER_AGENT
from osint.errors import InputError

MAX_QUEUED = 10_000
MAX_RETRY_AFTER = 60.0
_DONE = object()


class Notifier:
    """Sends events to ``url`` and/or ``command`` in the background; ``send`` never blocks."""

    def __init__(
        self,
        *,
        url: str | None = None,
        command: str | None = None,
        log: Callable[[str], None] | None = None,
        retries: int = 5,
        backoff: float = 1.0,
        timeout: float = 10.0,
    ) -> None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise InputError(f"--notify-url must be an http(s) URL, not {url!r}")
        self.url = url
        self.argv = shlex.split(command) if command else None
        if command is not None and not self.argv:
            raise InputError("--notify-cmd is empty")
        self.log = log or (lambda message: None)
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.delivered = self.failed = self.dropped = 0
        self._queue: queue.Queue[Any] = queue.Queue(MAX_QUEUED)
        self._abort = threading.Event()
        self._client = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})
        self._thread = threading.Thread(target=self._deliver_all, name="osint-notify", daemon=True)
        self._thread.start()

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, record: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            self.log(f"notification queue full: event {record.get('event_id')} not sent")

    def close(self, timeout: float = 30.0) -> None:
        """Deliver what is queued (waiting up to ``timeout`` s), then stop."""
        with contextlib.suppress(queue.Full):
            self._queue.put(_DONE, timeout=timeout)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abort.set()
            self._thread.join(self.timeout + 1)
        left = 0
        while True:
            try:
                left += self._queue.get_nowait() is not _DONE
            except queue.Empty:
                break
        if left:
            self.log(f"{left} notification(s) not delivered before shutdown")
        self._client.close()

    # -- the background thread -----------------------------------------------------------
    def _deliver_all(self) -> None:
        while True:
            record = self._queue.get()
            if record is _DONE or self._abort.is_set():
                return
            body = json.dumps(record, ensure_ascii=False).encode("utf-8")
            ok = True
            if self.url is not None:
                ok = self._post(body, record) and ok
            if self.argv is not None:
                ok = self._run_command(body, record) and ok
            if ok:
                self.delivered += 1
            else:
                self.failed += 1

    def _post(self, body: bytes, record: dict[str, Any]) -> bool:
        assert self.url is not None
        reason = ""
        for attempt in range(self.retries + 1):
            if attempt and self._abort.wait(self._delay(attempt, reason)):
                break
            try:
                response = self._client.post(
                    self.url, content=body, headers={"Content-Type": "application/json"}
                )
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                return True
            reason = f"HTTP {response.status_code}"
            if response.status_code == 429 or response.status_code >= 500:
                retry_after = response.headers.get("retry-after", "")
                reason = f"{reason} retry-after {retry_after}" if retry_after.isdigit() else reason
                continue
            break  # the receiver refuses this event: retrying will not help
        self.log(f"webhook {self.url}: event {record.get('event_id')} not delivered ({reason})")
        return False

    def _delay(self, attempt: int, reason: str) -> float:
        if "retry-after " in reason:
            return min(float(reason.rsplit(" ", 1)[1]), MAX_RETRY_AFTER)
        growth: int = 2 ** (attempt - 1)  # typeshed: int ** int is Any (negative powers)
        ceiling = self.backoff * growth
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _run_command(self, body: bytes, record: dict[str, Any]) -> bool:
        assert self.argv is not None
        try:
            done = subprocess.run(
                self.argv, input=body, capture_output=True, timeout=self.timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.log(f"notify command {self.argv[0]}: event {record.get('event_id')}: {exc}")
            return False
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            self.log(
                f"notify command {self.argv[0]} exited {done.returncode} for event "
                f"{record.get('event_id')}" + (f": {detail[0]}" if detail else "")
            )
            return False
        return True
