"""Media of a collection run: each file fetched once per case, streamed, hashed, inspected.

:class:`MediaFetcher` downloads what posts and profiles reference through the run's HTTP client
(so every download is captured in the WARC file), under ``settings.max_media_bytes``, into the
content-addressed media store, and gives each file a first look (:mod:`analyzers.mediainspect`). A file
this case already holds under the same URL is not fetched again. Failures (HTTP errors, too
large, network) are written on the reference (``MediaRef.error``); bad bytes (HTML, corrupt,
truncated, decompression bombs) are stored and flagged by ``Media.status``. Neither stops a run.

A post's attachments are downloaded after the post is stored (:meth:`MediaFetcher.fetch_for`):
an attachment that failed keeps its attempt count and a back-off time (``PostMedia.attempts``,
``retry_after``), and a plain re-run tries it again (:meth:`MediaFetcher.retry_rows`). A host
that keeps refusing connections trips the HTTP client's circuit breaker: its files are left
pending (not counted as an attempt) instead of costing every one of them the full retry budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from osint.analyzers.mediainspect import MediaInspection, inspect_media
from osint.collectors.http import HostUnreachable, HttpClient
from osint.collectors.redact import scrub
from osint.config import Settings
from osint.errors import CollectError
from osint.progress import Progress
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter, MediaOutcome
from osint.storage.models import Account, AccountSnapshot, Media, Post, PostMedia
from osint.storage.queries import chunks
from osint.storage.records import SEEN_VIA_REFERENCE, MediaRef
from osint.storage.types import utcnow

MAX_ATTEMPTS = 8  # downloads of one attachment across runs before osint stops trying
RETRY_BASE = 60.0  # seconds before the first retry; doubles per failed attempt
RETRY_CAP = 24 * 3600.0
RETRY_BATCH = 200  # attachments retried per transaction


def retry_delay(attempts: int) -> float:
    """Seconds to wait before the next try of an attachment that failed ``attempts`` times."""
    growth: int = 2 ** max(attempts - 1, 0)  # typeshed: int ** int is Any (negative powers)
    return min(RETRY_CAP, RETRY_BASE * growth)


@dataclass
class PendingMedia:
    """An attachment of a stored post whose bytes are not stored yet."""

    post_id: int
    ref: MediaRef
    attempts: int = 0


@dataclass
class FetchedBatch:
    new_media: list[NewMedia] = field(default_factory=list)
    items: list[PendingMedia] = field(default_factory=list)
    skipped: set[int] = field(default_factory=set)  # id(item) left pending (host unreachable)


@dataclass
class NewMedia:
    """A file stored during this run, waiting for its database row."""

    sha256: str
    size: int
    info: MediaInspection
    source_url: str


class MediaFetcher:
    def __init__(
        self, store: Store, http: HttpClient, settings: Settings, case_id: int, progress: Progress
    ) -> None:
        self.store = store
        self.http = http
        self.settings = settings
        self.case_id = case_id
        self.progress = progress
        self.cache: dict[str, tuple[str, int | None]] = {}  # URL -> (sha256, media row id)
        self.downloaded = self.reused = self.failed = self.flagged = self.pending = 0
        self.retried = 0

    def resolve_known(self, refs: list[MediaRef]) -> None:
        """Set ``ref.sha256`` of references whose file this case already holds (no download)."""
        self._load_known([r.source_url for r in refs if r.source_url and not r.sha256])
        for ref in refs:
            if ref.source_url and not ref.sha256 and ref.source_url in self.cache:
                ref.sha256 = self.cache[ref.source_url][0]
                self.reused += 1

    def fetch(self, refs: list[MediaRef]) -> list[NewMedia]:
        """Set ``ref.sha256`` (or ``ref.error``) on each reference; returns the new files."""
        return self._fetch(refs, set())

    def _fetch(self, refs: Sequence[MediaRef], skipped: set[int]) -> list[NewMedia]:
        self.resolve_known(list(refs))
        fresh: dict[str, NewMedia] = {}
        for ref in refs:
            url = ref.source_url
            if not url or ref.sha256:
                continue
            if url in fresh:
                ref.sha256 = fresh[url].sha256
                self.reused += 1
                continue
            media, error = self._download(url)
            if media is None and error is None:  # its host is unreachable this run
                skipped.add(id(ref))
                self.pending += 1
                continue
            self.progress.update("media", advance=1)
            if media is None:
                ref.error = error
                self.failed += 1
                self.progress.log(scrub(f"media {url}: {error}", self.http.secrets))
                continue
            ref.sha256 = media.sha256
            fresh[url] = media
            self.downloaded += 1
            if media.info.status != "ok":
                self.flagged += 1
                note = f"media {url} flagged {media.info.status}: {media.info.problem}"
                self.progress.log(scrub(note, self.http.secrets))
        return list(fresh.values())

    # -- attachments of stored posts: downloaded after the posts, retried on later runs --------
    def fetch_for(self, items: list[PendingMedia]) -> FetchedBatch:
        """Download the pending attachments (``ref.sha256``/``ref.error`` set on each)."""
        batch = FetchedBatch(items=items)
        batch.new_media = self._fetch([item.ref for item in items], batch.skipped)
        return batch

    def write_outcomes(self, writer: CaseWriter, batch: FetchedBatch) -> None:
        """Media rows for the new files and each attachment's outcome (in the caller's
        transaction)."""
        ids = self.write(writer, batch.new_media)
        now = utcnow()
        outcomes = []
        for item in batch.items:
            ref = item.ref
            if id(ref) in batch.skipped:
                note = _pending_note(self.http, ref)
                outcomes.append(
                    MediaOutcome(item.post_id, ref.position, error=note, attempted=False)
                )
            elif ref.sha256:
                media_id = self.media_id(ref.sha256, ids)
                outcomes.append(MediaOutcome(item.post_id, ref.position, media_id=media_id))
            else:
                wait = timedelta(seconds=retry_delay(item.attempts + 1))
                outcomes.append(
                    MediaOutcome(
                        item.post_id,
                        ref.position,
                        error=scrub(ref.error or "not fetched", self.http.secrets),
                        retry_after=now + wait if item.attempts + 1 < MAX_ATTEMPTS else None,
                    )
                )
        writer.media_outcomes(outcomes)

    def retry_rows(
        self, session: Session, account_id: int, platform: str, after_id: int, now: datetime
    ) -> tuple[list[PendingMedia], int]:
        """Attachments of the account's posts (and of posts seen through references on this
        platform) still without their file, due for another try: oldest first, one batch."""
        rows = session.execute(
            select(
                PostMedia.id,
                PostMedia.post_id,
                PostMedia.position,
                PostMedia.kind,
                PostMedia.source_url,
                PostMedia.attempts,
            )
            .join(Post, Post.id == PostMedia.post_id)
            .where(
                Post.case_id == self.case_id,
                Post.platform == platform,
                or_(Post.account_id == account_id, Post.seen_via == SEEN_VIA_REFERENCE),
                PostMedia.id > after_id,
                PostMedia.media_id.is_(None),
                PostMedia.source_url.is_not(None),
                func.coalesce(PostMedia.attempts, 0) < MAX_ATTEMPTS,
                or_(PostMedia.retry_after.is_(None), PostMedia.retry_after <= now),
            )
            .order_by(PostMedia.id)
            .limit(RETRY_BATCH)
        ).all()
        items = [
            PendingMedia(
                row.post_id,
                MediaRef(row.source_url, position=row.position, kind=row.kind),
                int(row.attempts or 0),
            )
            for row in rows
        ]
        return items, (int(rows[-1].id) if rows else after_id)

    def write(self, writer: CaseWriter, new_media: list[NewMedia]) -> dict[str, int]:
        """Media rows for the new files (inside the caller's transaction): sha256 -> id."""
        ids = writer.media_many(
            [
                {
                    "sha256": m.sha256,
                    "size": m.size,
                    "mime": m.info.mime,
                    "width": m.info.width,
                    "height": m.info.height,
                    "exif": m.info.exif,
                    "status": m.info.status.value,
                    "note": m.info.problem,
                    "source_url": m.source_url,
                }
                for m in new_media
            ]
        )
        for m in new_media:
            self.cache[m.source_url] = (m.sha256, ids[m.sha256])
        return ids

    def media_id(self, sha256: str | None, fresh: dict[str, int]) -> int | None:
        if sha256 is None:
            return None
        if sha256 in fresh:
            return fresh[sha256]
        return next((mid for sha, mid in self.cache.values() if sha == sha256), None)

    def _load_known(self, urls: list[str]) -> None:
        """Fill the cache with files this case already holds under these URLs."""
        wanted = [u for u in dict.fromkeys(urls) if u not in self.cache]
        if not wanted:
            return
        with self.store.reader() as session:
            for batch in chunks(wanted):
                rows = self._known_rows(session, list(batch))
                shas = self._shas(session, {media_id for _, media_id in rows})
                for url, media_id in rows:
                    if media_id in shas and self.store.media.exists(shas[media_id]):
                        self.cache[url] = (shas[media_id], media_id)

    def _known_rows(self, session: Session, urls: list[str]) -> list[Any]:
        attachments = session.execute(
            select(PostMedia.source_url, PostMedia.media_id)
            .join(Post, Post.id == PostMedia.post_id)
            .where(
                Post.case_id == self.case_id,
                PostMedia.source_url.in_(urls),
                PostMedia.media_id.is_not(None),
            )
        ).all()
        avatars = session.execute(
            select(AccountSnapshot.avatar_url, AccountSnapshot.avatar_media_id)
            .join(Account, Account.id == AccountSnapshot.account_id)
            .where(
                Account.case_id == self.case_id,
                AccountSnapshot.avatar_url.in_(urls),
                AccountSnapshot.avatar_media_id.is_not(None),
            )
        ).all()
        return [*attachments, *avatars]

    @staticmethod
    def _shas(session: Session, media_ids: set[int]) -> dict[int, str]:
        if not media_ids:
            return {}
        rows = session.execute(select(Media.id, Media.sha256).where(Media.id.in_(media_ids)))
        return {media_id: sha for media_id, sha in rows}

    def _download(self, url: str) -> tuple[NewMedia | None, str | None]:
        """The stored file, or its error; (None, None) when its host is unreachable this run."""
        cap = self.settings.max_media_bytes
        try:
            download = self.http.download(url, max_bytes=cap, breaker=True)
        except HostUnreachable:
            return None, None
        except CollectError as exc:  # includes RateLimited: one image never stops the run
            return None, str(exc)
        try:
            if download.status_code != 200:
                return None, f"HTTP {download.status_code}"
            if download.truncated:
                return None, f"larger than the {cap:,}-byte cap (OSINT_MAX_MEDIA_BYTES)"
            info = inspect_media(download.file, declared_type=download.content_type)
            stored = self.store.media.put_stream(download.chunks())
            return NewMedia(stored.sha256, stored.size, info, url), None
        finally:
            download.close()


def _pending_note(http: HttpClient, ref: MediaRef) -> str:
    host = ref.source_url.split("://", 1)[-1].split("/", 1)[0] if ref.source_url else ""
    why = http.open_circuits.get(host, "its host was unreachable")
    return scrub(f"pending: {why}", http.secrets)
