"""Hash many image files on several processes with flat memory.

Each worker decodes one (already reduced) image at a time and sends back only its small
``HashRecord``; at most ``max_pending_chunks`` chunks of paths are in flight, so a
100,000-image case never has more than a few dozen paths queued and ``workers`` images decoded.

Workers start from a fresh interpreter ("forkserver"), so they inherit no database connections
or open files from the caller, and run BLAS single-threaded: the hashing matrices are small and
BLAS threads in every worker would fight over the same cores (measured 3x slower on 2 cores).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from types import TracebackType
from typing import Any

from threadpoolctl import threadpool_limits

from osint.analyzers.images import HashRecord, hash_image

Item = tuple[Any, str | Path]  # (caller's key, file path)


def _single_threaded_blas() -> None:
    threadpool_limits(limits=1, user_api="blas")


def _hash_chunk(items: list[tuple[Any, str]], pdq: bool) -> list[tuple[Any, HashRecord]]:
    return [(key, hash_image(Path(path), pdq=pdq)) for key, path in items]


class BatchHasher:
    """A pool of hashing processes; use as a context manager, call ``hash`` as often as needed."""

    def __init__(
        self,
        workers: int = 2,
        *,
        pdq: bool = False,
        chunk_size: int = 16,
        max_pending_chunks: int | None = None,
    ) -> None:
        self.workers, self.pdq, self.chunk_size = workers, pdq, chunk_size
        self.pending_limit = max_pending_chunks or 2 * workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> BatchHasher:
        if self.workers > 1:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["osint.analyzers.images"])  # import numpy/Pillow once
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_single_threaded_blas
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def hash(self, items: Iterable[Item]) -> Iterator[tuple[Any, HashRecord]]:
        """``(key, HashRecord)`` for every item, in completion order (not input order)."""
        if self._pool is None:
            with threadpool_limits(limits=1, user_api="blas"):
                for key, path in items:
                    yield key, hash_image(Path(path), pdq=self.pdq)
            return
        iterator = iter(items)
        pending: set[Future[list[tuple[Any, HashRecord]]]] = set()
        while True:
            while len(pending) < self.pending_limit:
                chunk = [(key, str(path)) for key, path in _take(iterator, self.chunk_size)]
                if not chunk:
                    break
                pending.add(self._pool.submit(_hash_chunk, chunk, self.pdq))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield from future.result()


def hash_files(
    items: Iterable[Item], *, workers: int = 2, pdq: bool = False, chunk_size: int = 16
) -> Iterator[tuple[Any, HashRecord]]:
    """One-shot ``BatchHasher``: hash ``items`` on ``workers`` processes."""
    with BatchHasher(workers, pdq=pdq, chunk_size=chunk_size) as hasher:
        yield from hasher.hash(items)


def _take(iterator: Iterator[Item], count: int) -> list[Item]:
    chunk = []
    for item in iterator:
        chunk.append(item)
        if len(chunk) >= count:
            break
    return chunk
