"""Media of a collection run: each file fetched once per case, streamed, hashed, inspected.

:class:`MediaFetcher` downloads what posts and profiles reference through the run's HTTP client
(so every download is captured in the WARC file), under ``settings.max_media_bytes``, into the
content-addressed media store, and gives each file a first look (:mod:`collectors.media`). A file
this case already holds under the same URL is not fetched again. Failures (HTTP errors, too
large, network) are written on the reference (``MediaRef.error``); bad bytes (HTML, corrupt,
truncated, decompression bombs) are stored and flagged by ``Media.status``. Neither stops a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from osint.collectors.http import HttpClient
from osint.collectors.media import ImageInfo, inspect_image
from osint.config import Settings
from osint.errors import CollectError
from osint.progress import Progress
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter
from osint.storage.models import Account, AccountSnapshot, Media, Post, PostMedia
from osint.storage.records import MediaRef

IN_CHUNK = 500


@dataclass
class NewMedia:
    """A file stored during this run, waiting for its database row."""

    sha256: str
    size: int
    info: ImageInfo
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
        self.downloaded = self.reused = self.failed = self.flagged = 0

    def fetch(self, refs: list[MediaRef]) -> list[NewMedia]:
        """Set ``ref.sha256`` (or ``ref.error``) on each reference; returns the new files."""
        self._load_known([r.source_url for r in refs if r.source_url and not r.sha256])
        fresh: dict[str, NewMedia] = {}
        for ref in refs:
            url = ref.source_url
            if not url or ref.sha256:
                continue
            if url in self.cache or url in fresh:
                ref.sha256 = self.cache[url][0] if url in self.cache else fresh[url].sha256
                self.reused += 1
                continue
            media, error = self._download(url)
            self.progress.update("media", advance=1)
            if media is None:
                ref.error = error
                self.failed += 1
                self.progress.log(f"media {url}: {error}")
                continue
            ref.sha256 = media.sha256
            fresh[url] = media
            self.downloaded += 1
            if media.info.status != "ok":
                self.flagged += 1
                self.progress.log(f"media {url} flagged {media.info.status}: {media.info.note}")
        return list(fresh.values())

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
                    "status": m.info.status,
                    "note": m.info.note,
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
            for start in range(0, len(wanted), IN_CHUNK):
                rows = self._known_rows(session, wanted[start : start + IN_CHUNK])
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
        cap = self.settings.max_media_bytes
        try:
            download = self.http.download(url, max_bytes=cap)
        except CollectError as exc:  # includes RateLimited: one image never stops the run
            return None, str(exc)
        try:
            if download.status_code != 200:
                return None, f"HTTP {download.status_code}"
            if download.truncated:
                return None, f"larger than the {cap:,}-byte cap (OSINT_MAX_MEDIA_BYTES)"
            info = inspect_image(download.file, declared_type=download.content_type)
            stored = self.store.media.put_stream(download.chunks())
            return NewMedia(stored.sha256, stored.size, info, url), None
        finally:
            download.close()
