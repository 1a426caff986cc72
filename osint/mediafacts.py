"""What a stored media file is, as the ``media`` table records it, from the one media inspector.

Reading a hostile file must never crash an import: the status words, dimensions and EXIF are
``analyzers.mediainspect``'s (the same the collection and the image analysis give the same bytes).
The bytes are stored in every case, as evidence.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osint.analyzers.mediainspect import MediaInspection, MediaStatus, inspect_media
from osint.storage.media import FileMediaStore


@dataclass
class MediaFacts:
    """A stored file as the ``media`` table records it."""

    sha256: str
    size: int
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    exif: dict[str, Any] = field(default_factory=dict)
    status: MediaStatus = MediaStatus.OK
    note: str | None = None
    source_url: str | None = None


def store_local_file(media: FileMediaStore, path: Path, *, source_url: str) -> MediaFacts:
    """Copy ``path`` into the media store (content-addressed) and describe it."""
    stored = media.put_file(path)
    guessed, _ = mimetypes.guess_type(path.name)
    found = inspect_media(media.path_for(stored.sha256), declared_type=guessed)
    return facts_of(found, sha256=stored.sha256, size=stored.size, source_url=source_url)


def facts_of(found: MediaInspection, *, sha256: str, size: int, source_url: str) -> MediaFacts:
    return MediaFacts(
        sha256=sha256,
        size=size,
        mime=found.mime,
        width=found.width,
        height=found.height,
        exif=found.exif,
        status=found.status,
        note=found.problem,
        source_url=source_url,
    )
