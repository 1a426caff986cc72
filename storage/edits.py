"""Known posts captured again: the post follows the latest capture, earlier texts stay versions.

A post captured again (``collect --full``, monitoring, a second import) is compared with what the
store holds. A changed text is an edit: a new :class:`~storage.models.PostVersion` keeps the text
with the links, hashtags, mentions and attachments it came with, and the post row takes every
field of the new capture. Other fields that changed (links unwound, attachments replaced) are
refreshed the same way, without a new version. The content keys (``post_objects``) of a changed
post are replaced by the new capture's, and so are its attachment rows (``post_media``) when the
new capture lists attachments (a record without any says nothing of them: monitoring re-checks
leave out the attachments already held). An unchanged post keeps its keys and gains any new ones
(shares files name one object per row).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import orjson

from osint.storage.columns import (
    POST_JSON_FIELDS,
    VERSION_COLUMNS,
    encoded_post,
    media_link_row,
    version_values,
)
from osint.storage.records import MediaRef, PostRecord, text_sha256

if TYPE_CHECKING:
    from osint.storage.ingest import CaseWriter, PostWriteResult

# The fields a new capture is compared on besides its text and attachments; the last three are
# lists (JSON text in SQLite).
_COMPARED = (
    "kind", "lang", "url", "repost_of", "reply_to", "quote_of", "links", "hashtags", "mentions",
)  # fmt: skip
_LISTS = 3
KNOWN_COLUMNS = ("id", "platform_id", "text", "text_html", "capture_id", "last_seen", *_COMPARED)
_FIRST_COMPARED = KNOWN_COLUMNS.index(_COMPARED[0])
_FIRST_LIST = len(KNOWN_COLUMNS) - _LISTS
_UPDATED = (
    "kind",
    "text",
    "text_html",
    "url",
    "lang",
    "repost_of",
    "reply_to",
    "quote_of",
    "links",
    "hashtags",
    "mentions",
    "metrics",
    "extra",
    "capture_id",
    "last_seen",
)
_JSON_UPDATED = frozenset(POST_JSON_FIELDS).intersection(_UPDATED)  # stored as JSON text
_STORED_MEDIA = ("post_id", "position", "media_id", "source_url", "kind", "platform_key")


@dataclass(frozen=True)
class Known:
    """What the store holds of a post, as far as the comparison with a new capture needs it."""

    id: int
    text: str | None
    text_html: str | None
    capture_id: int | None
    last_seen: Any  # as the driver returns it
    fields: tuple[Any, ...]  # the _COMPARED fields' values


def known_from_row(row: Sequence[Any]) -> Known:
    """The :class:`Known` of a row of :data:`KNOWN_COLUMNS`."""
    lists = (orjson.loads(v) if isinstance(v, str | bytes) else v for v in row[_FIRST_LIST:])
    return Known(
        row[0], row[2], row[3], row[4], row[5], (*row[_FIRST_COMPARED:_FIRST_LIST], *lists)
    )


# A record's values of the compared fields, as a tuple (:attr:`Known.fields`).
record_fields: Callable[[PostRecord], tuple[Any, ...]] = attrgetter(*_COMPARED)


def version_media(refs: Sequence[MediaRef]) -> list[dict[str, Any]]:
    return [
        {"position": m.position, "kind": m.kind, "source_url": m.source_url, "sha256": m.sha256}
        for m in refs
    ]


def version_rows(
    writer: CaseWriter, recs: Sequence[PostRecord], ids: dict[str, int], seen_at: datetime
) -> list[tuple[Any, ...]]:
    """``post_versions`` rows (:data:`VERSION_COLUMNS`) of these records' texts."""
    # A post without text has no text to keep: its first version is the first text it shows.
    bulk = writer.bulk
    seen, json_of = bulk.utc(seen_at), bulk.json
    rows = []
    for r in recs:
        if not (r.text or r.text_html):
            continue
        enc = encoded_post(r)
        if enc is None:
            digest, links = text_sha256(r.text, r.text_html), json_of(r.links)
            hashtags, mentions = json_of(r.hashtags), json_of(r.mentions)
        else:
            digest, links, hashtags, mentions = version_values(enc)
        media = json_of(version_media(r.media)) if r.media else "[]"
        post_id, capture_id = ids[r.platform_id], r.capture_id
        rows.append(
            (
                post_id,
                r.text,
                r.text_html,
                digest,
                seen,
                capture_id,
                links,
                hashtags,
                mentions,
                media,
            )
        )
    return rows


def refresh_known(
    writer: CaseWriter,
    recs: Sequence[PostRecord],
    existing: dict[tuple[str, str], Known],
    seen_at: datetime,
    result: PostWriteResult,
) -> list[PostRecord]:
    """Bring known posts up to these records; the records whose keys must be replaced."""
    from osint.storage.ingest import EditedPost

    ids = {r.platform_id: existing[(r.platform, r.platform_id)].id for r in recs}
    result.ids.update(ids)
    stored_media = _stored_media(writer, sorted(ids.values()))
    edited: list[tuple[Known, PostRecord]] = []
    changed: list[PostRecord] = []
    seen = writer.bulk.utc(seen_at)
    repeats: set[int] = set()
    for rec in recs:
        row = existing[(rec.platform, rec.platform_id)]
        # written by this same capture already, or seen by this same run (one seen_at per run)
        repeat = row.last_seen == seen or (
            rec.capture_id is not None and row.capture_id == rec.capture_id
        )
        if repeat:
            repeats.add(row.id)
        result.repeated += repeat
        text_changed = (rec.text or "", rec.text_html or "") != (
            row.text or "",
            row.text_html or "",
        )
        if text_changed:
            edited.append((row, rec))
            changed.append(rec)
        elif row.fields != record_fields(rec) or _media_differs(stored_media.get(row.id), rec):
            changed.append(rec)
            if not repeat:
                result.unchanged.append(row.id)
                result.refreshed.append(row.id)
        elif not repeat:
            result.unchanged.append(row.id)
    versions = _write_versions(writer, [rec for _, rec in edited], ids, seen_at)
    for row, rec in edited:
        if row.id not in repeats:
            digest = text_sha256(rec.text, rec.text_html)
            result.edited.append(
                EditedPost(row.id, rec.platform_id, row.text, rec.text, versions[(row.id, digest)])
            )
    changed_ids = {id(r) for r in changed}
    _update_posts(writer, changed, ids, seen_at)
    _touch(writer, [r for r in recs if id(r) not in changed_ids], ids, seen_at)
    _sync_media(writer, recs, ids, stored_media, changed_ids)
    return changed


def _write_versions(
    writer: CaseWriter, recs: Sequence[PostRecord], ids: dict[str, int], seen_at: datetime
) -> dict[tuple[int, str], int]:
    """New versions (an edit back to an earlier text keeps that one); ids by (post, digest)."""
    if not recs:
        return {}
    rows = version_rows(writer, recs, ids, seen_at)
    writer.bulk.insert("post_versions", VERSION_COLUMNS, rows)
    post_ids = sorted({ids[r.platform_id] for r in recs})
    found = writer.bulk.select_in(
        "post_versions", ("id", "post_id", "text_sha256"), {}, "post_id", post_ids
    )
    return {(post_id, digest): version_id for version_id, post_id, digest in found}


def _update_posts(
    writer: CaseWriter, recs: Sequence[PostRecord], ids: dict[str, int], seen_at: datetime
) -> None:
    bulk = writer.bulk
    seen, json_of = bulk.utc(seen_at), bulk.json
    rows = sorted(
        (
            ids[r.platform_id],
            r.kind,
            r.text,
            r.text_html,
            r.url,
            r.lang,
            r.repost_of,
            r.reply_to,
            r.quote_of,
            json_of(r.links),
            json_of(r.hashtags),
            json_of(r.mentions),
            json_of(r.metrics),
            json_of(r.extra),
            r.capture_id,
            seen,
        )
        for r in recs
    )
    bulk.update_rows("posts", _UPDATED, [(*row[1:], row[0]) for row in rows], json=_JSON_UPDATED)


def _touch(
    writer: CaseWriter, recs: Sequence[PostRecord], ids: dict[str, int], seen_at: datetime
) -> None:
    """Unchanged posts: seen now (their capture stays the one that showed their content)."""
    post_ids = sorted(ids[rec.platform_id] for rec in recs)
    writer.bulk.set_where_ids("posts", {"last_seen": writer.bulk.utc(seen_at)}, post_ids)


def _stored_media(writer: CaseWriter, post_ids: list[int]) -> dict[int, dict[int, tuple[Any, ...]]]:
    """The attachment rows of these posts: post id -> position -> (media id, url, kind, key)."""
    stored: dict[int, dict[int, tuple[Any, ...]]] = {}
    for post_id, position, *rest in writer.bulk.select_in(
        "post_media", _STORED_MEDIA, {}, "post_id", post_ids
    ):
        stored.setdefault(post_id, {})[position] = tuple(rest)
    return stored


def _media_differs(stored: dict[int, tuple[Any, ...]] | None, rec: PostRecord) -> bool:
    # A record without attachments says nothing of them (a monitoring re-check leaves out the
    # attachments it already holds): only a record that lists attachments replaces them.
    if not rec.media:
        return False
    stored = stored or {}
    if len(stored) != len(rec.media):
        return True
    for ref in rec.media:
        have = stored.get(ref.position)
        if have is None or not _same_attachment(have, ref):
            return True
    return False


def _same_attachment(row: tuple[Any, ...], ref: MediaRef) -> bool:
    """Whether a stored attachment row (media id, url, kind, key) stands for ``ref``.

    A ref with only its platform key (the response named the attachment but left it out of its
    includes, as X does for the posts a timeline's retweets and quotes expand) says nothing new:
    it never replaces the row of the same key that a fuller capture left, with its media."""
    if ref.source_url is None and ref.platform_key and row[3] == ref.platform_key:
        return True
    return bool(row[1:] == (ref.source_url, ref.kind, ref.platform_key))


def _sync_media(
    writer: CaseWriter,
    recs: Sequence[PostRecord],
    ids: dict[str, int],
    stored: dict[int, dict[int, tuple[Any, ...]]],
    changed: set[int],
) -> None:
    """Attachment rows as the records show them: stale ones removed, missing media ids filled."""
    wanted = [r for r in recs if r.media]
    media_ids = writer.media_ids_of(m.sha256 for r in wanted for m in r.media if m.sha256)
    stale: list[tuple[int, int]] = []
    inserts: list[tuple[Any, ...]] = []
    fills: list[tuple[int, int, int]] = []
    for rec in recs:
        post_id = ids[rec.platform_id]
        have = stored.get(post_id, {})
        refs = {ref.position: ref for ref in rec.media}
        for position, row in have.items():
            ref = refs.get(position)
            if (id(rec) in changed and refs) and (ref is None or not _same_attachment(row, ref)):
                stale.append((post_id, position))
        gone = {p for q, p in stale if q == post_id}
        for position, ref in refs.items():
            media_id = media_ids.get(ref.sha256) if ref.sha256 else None
            if position not in have or position in gone:
                inserts.append(media_link_row(post_id, ref, media_id, rec.capture_id))
            elif have[position][0] is None and media_id is not None:
                fills.append((media_id, post_id, position))
    writer.bulk.delete_pairs("post_media", ("post_id", "position"), sorted(stale))
    writer.insert_media_links(sorted(inserts, key=lambda row: (row[0], row[1])))
    if fills:
        writer.bulk.update_rows(
            "post_media",
            ("media_id", "error"),
            [(media_id, None, post_id, position) for media_id, post_id, position in sorted(fills)],
            where=("post_id", "position"),
        )


def replace_objects(writer: CaseWriter, recs: Sequence[PostRecord], ids: dict[str, int]) -> None:
    """Drop the content keys of these changed posts; the caller writes their new ones."""
    writer.bulk.delete_where_in("post_objects", "post_id", sorted(ids[r.platform_id] for r in recs))
