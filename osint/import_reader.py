"""Reading an import file in a second process, so that parsing runs beside the store's writes.

An import is two jobs of about equal weight: reading the file into records (JSON parsing, the
platform normaliser, content keys) and writing them. One Python process does them in turn; with
:func:`read_ahead`, a child process reads and keys the records while this one writes, a few
batches ahead. Records cross as plain tuples (:func:`storage.records.post_to_tuple`): pickling
dataclasses costs more than building them.

What the importer sees is the serial reader's stream, item for item: the same records, the same
line-numbered problems in the same places, and an error that stops the reader (a truncated file)
raised after every item read before it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from osint.collectors.importers import ImportProblem
from osint.collectors.importers.twarc import read_twarc
from osint.errors import InputError
from osint.keys import add_content_keys
from osint.storage.records import PostRecord, post_from_tuple, post_to_tuple

Reader = Callable[[TextIO], Iterator[PostRecord | ImportProblem]]
READERS: dict[str, Reader] = {"twarc": read_twarc}  # file readers that may run in a child

CHUNK = 1_000  # items per message from the child
AHEAD = 40  # messages the child may have waiting: two import batches
MIN_BYTES = 8_000_000  # smaller files: starting a process costs more than it saves
_HEADER = struct.Struct("<Q")  # each frame: its length, then a pickle
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class ReaderFailed(InputError):
    """The reading process ended without saying why (killed, out of memory, a crash)."""


def open_text(path: Path) -> TextIO:
    try:
        return path.open(newline="", encoding="utf-8-sig", errors="strict")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def worth_reading_ahead(path: Path) -> bool:
    """A second core to use, and a file big enough to repay starting a process."""
    try:
        big = path.stat().st_size >= MIN_BYTES
    except OSError:
        return False
    return big and (os.cpu_count() or 1) > 1


def read_keyed(source: str, path: Path, *, in_child: bool) -> Iterator[PostRecord | ImportProblem]:
    """The items of ``READERS[source]`` over ``path``, records with their content keys added.

    Read in a child process when ``in_child`` (:func:`read_ahead`), here otherwise, and here too
    when no child could start (no usable interpreter, as in a frozen build): before the first
    item, switching changes nothing of what the importer sees.
    """
    if in_child:
        started = False
        try:
            for item in read_ahead(source, path):
                started = True
                yield item
            return
        except ReaderFailed:
            if started:
                raise
    with open_text(path) as stream:
        for item in READERS[source](stream):
            yield item if isinstance(item, ImportProblem) else add_content_keys(item)


def read_ahead(source: str, path: Path) -> Iterator[PostRecord | ImportProblem]:
    """The items of ``READERS[source]`` over ``path``, read and keyed in a child process.

    Records come with their content keys already added (:func:`osint.keys.add_content_keys`).
    """
    if source not in READERS:
        raise ValueError(f"no reader {source!r} (known: {', '.join(READERS)})")
    # A child of its own (python -m), not multiprocessing: nothing of the caller's main module
    # or threads is copied or re-run. Frames come back on its stdout.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([_PACKAGE_ROOT, *sys.path])}
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [sys.executable, "-m", __name__, source, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
        )
        frames: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD)
        pump = threading.Thread(
            target=_pump, args=(child.stdout, frames), name="osint-import-reader", daemon=True
        )
        pump.start()
        try:
            while (frame := frames.get()) is not None:
                kind, payload = pickle.loads(frame)  # noqa: S301 (bytes from our own child)
                if kind == "items":
                    for item in payload:
                        yield post_from_tuple(item) if type(item) is tuple else item
                elif kind == "error":
                    raise payload
                else:
                    return
            child.wait()
            errors.seek(0)
            last = errors.read().decode(errors="replace").strip().splitlines()[-1:]
            raise ReaderFailed(
                f"the process reading the file stopped (exit code {child.returncode}"
                f"{': ' + last[0] if last else ''})",
                hint="run the import again; it resumes where the store stopped",
            )
        finally:
            if child.poll() is None:
                child.kill()
            while pump.is_alive():  # unblock the pump if it waits on a full queue
                with contextlib.suppress(queue.Empty):
                    frames.get_nowait()
                pump.join(timeout=0.05)
            child.wait()
            if child.stdout is not None:
                child.stdout.close()


def _pump(stream: IO[bytes] | None, frames: queue.Queue[bytes | None]) -> None:
    """Move whole frames from the child's stdout into the queue (None at the end)."""
    assert stream is not None
    try:
        while len(head := stream.read(_HEADER.size)) == _HEADER.size:
            (size,) = _HEADER.unpack(head)
            frame = stream.read(size)
            if len(frame) < size:
                break
            frames.put(frame)
    finally:
        frames.put(None)


def _produce(source: str, path: Path, out: IO[bytes]) -> None:
    """The child: read, key and send the items, then ``end`` or the error that stopped it."""
    from osint.imports import fewer_gc_pauses  # here: osint.imports imports this module

    def send(kind: str, payload: Any) -> None:
        frame = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_HEADER.pack(len(frame)))
        out.write(frame)
        out.flush()

    chunk: list[Any] = []
    try:
        with fewer_gc_pauses(), open_text(path) as stream:
            for item in READERS[source](stream):
                if isinstance(item, ImportProblem):
                    chunk.append(item)
                else:
                    chunk.append(post_to_tuple(add_content_keys(item)))
                if len(chunk) >= CHUNK:
                    send("items", chunk)
                    chunk = []
    except Exception as exc:
        if chunk:
            send("items", chunk)
        send("error", _portable(exc))
        return
    if chunk:
        send("items", chunk)
    send("end", None)


def _portable(exc: Exception) -> Exception:
    """The exception itself when it survives pickling, else a plain one with its text."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 (checking our own bytes)
        return exc
    except Exception:
        return InputError(f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    _frames = sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries frames only: a stray print goes to stderr
    _produce(sys.argv[1], Path(sys.argv[2]), _frames)
