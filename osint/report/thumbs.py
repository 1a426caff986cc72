"""Small inline thumbnails (``data:`` URIs) made with Pillow from the media store.

Thumbnails keep the report one self-contained file. Stored media are hostile files too: Pillow's
decompression-bomb guard stays on, a file is decoded only when its stored bytes still match their
SHA-256, and anything that fails to decode simply gets no thumbnail.
"""

from __future__ import annotations

import base64
import io
import warnings

from PIL import Image, UnidentifiedImageError

from osint.storage.media import MediaIntegrityError, MediaStore

THUMB_SIZE = (160, 160)
MAX_SOURCE_BYTES = 40 * 1024 * 1024
MAX_SOURCE_PIXELS = 60_000_000


class Thumbnailer:
    """Makes at most ``limit`` thumbnails, one per SHA-256, remembering failures too."""

    def __init__(self, media: MediaStore, *, limit: int = 300) -> None:
        self.media = media
        self.limit = limit
        self._made: dict[str, str | None] = {}

    @property
    def count(self) -> int:
        return sum(1 for uri in self._made.values() if uri)

    def data_uri(self, sha256: str | None, size: int | None = None) -> str | None:
        """A ``data:image/jpeg;base64,...`` URI for these media bytes, or None."""
        if not sha256:
            return None
        if sha256 in self._made:
            return self._made[sha256]
        if self.count >= self.limit or (size is not None and size > MAX_SOURCE_BYTES):
            return None
        uri = self._make(sha256)
        self._made[sha256] = uri
        return uri

    def _make(self, sha256: str) -> str | None:
        try:
            if not self.media.exists(sha256):
                return None
            data = self.media.read(sha256, verify=True)
        except (MediaIntegrityError, OSError, ValueError):
            return None
        if len(data) > MAX_SOURCE_BYTES:
            return None
        return thumbnail_uri(data)


def thumbnail_uri(data: bytes) -> str | None:
    """JPEG thumbnail of an image as a data URI; None when the bytes are not a safe image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > MAX_SOURCE_PIXELS:
                    return None
                img.draft("RGB", THUMB_SIZE)  # lets JPEG decode at a reduced scale
                frame = img.convert("RGB")
                frame.thumbnail(THUMB_SIZE)
                out = io.BytesIO()
                frame.save(out, "JPEG", quality=75, optimize=True)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        ValueError,
        SyntaxError,
    ):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")
