"""A post as it leaves the store: the one record behind every post export and view.

:class:`PostRow` has one field per value a post carries out of the store (its own columns, its
account's ids, its capture's provenance, its media). Each field says where its value is read
(:attr:`PostField.source`), its name in ``osint export posts`` (:attr:`PostField.export`) and
whether it is a column of the evidence bundle's posts table (:attr:`PostField.bundle`). The
export's columns (:func:`export_fields`), the bundle's posts table (:func:`bundle_columns`) and
the report's post view (a subclass) all come from here, so a new post field is added once.

Ids are the same in both exports: ``id`` is the store's post id (what the bundle's
post_media, post_versions and finding_evidence rows name as ``post_id``); ``osint export
posts`` calls the platform's ids ``post_id`` and ``account_id`` (the bundle's ``platform_id``,
and ``platform_id`` of the bundle's accounts row that its posts row names as ``account_id``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import Field, dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from sqlalchemy import Select, select

from osint.storage.models import Account, Capture, Post


@dataclass(frozen=True)
class PostField:
    """Where a :class:`PostRow` field is read and where it is shown."""

    source: Any  # a column (of posts, its account or its capture); None: filled by the reader
    export: str | None  # its name in `osint export posts`; None: not in that export
    bundle: bool  # a column of the bundle's data/posts.jsonl and .csv (a posts table column)


R = TypeVar("R", bound="PostRow")
_SAME = "="  # the export name is the field's name


def _col(source: Any, *, export: str | None = _SAME) -> dict[str, PostField]:
    """The metadata of a field read from a column of the posts table."""
    return {"post": PostField(source, export, bundle=True)}


def _joined(source: Any, *, export: str | None = _SAME) -> dict[str, PostField]:
    """The metadata of a value joined from the account or capture, or made by the reader."""
    return {"post": PostField(source, export, bundle=False)}


@dataclass(frozen=True, kw_only=True)
class PostRow:
    """One post with its account's ids and its capture, as every export and view reads it.

    Field order is the order of ``osint export posts``; the bundle keeps the posts table's.
    """

    platform: str = field(metadata=_col(Post.platform))
    account_platform_id: str = field(metadata=_joined(Account.platform_id, export="account_id"))
    account_handle: str | None = field(metadata=_joined(Account.handle))
    platform_id: str = field(metadata=_col(Post.platform_id, export="post_id"))
    created_at: datetime = field(metadata=_col(Post.created_at))
    kind: str = field(metadata=_col(Post.kind))
    text: str | None = field(metadata=_col(Post.text))
    url: str | None = field(metadata=_col(Post.url))
    lang: str | None = field(metadata=_col(Post.lang))
    repost_of: str | None = field(metadata=_col(Post.repost_of))
    reply_to: str | None = field(metadata=_col(Post.reply_to))
    quote_of: str | None = field(metadata=_col(Post.quote_of))
    links: list[str] = field(metadata=_col(Post.links))
    hashtags: list[str] = field(metadata=_col(Post.hashtags))
    mentions: list[str] = field(metadata=_col(Post.mentions))
    # the attachments, read by the export (from post_media); the report reads none
    media: list[dict[str, Any]] = field(default_factory=list, metadata=_joined(None))
    source: str = field(metadata=_col(Post.source))
    first_seen: datetime = field(metadata=_col(Post.first_seen))
    last_seen: datetime = field(metadata=_col(Post.last_seen))
    deleted_at: datetime | None = field(metadata=_col(Post.deleted_at))
    capture_fetched_at: datetime | None = field(metadata=_joined(Capture.fetched_at))
    capture_url: str | None = field(metadata=_joined(Capture.url))
    capture_sha256: str | None = field(metadata=_joined(Capture.sha256))
    capture_warc_file: str | None = field(metadata=_joined(Capture.warc_file))
    capture_warc_record_id: str | None = field(metadata=_joined(Capture.warc_record_id))
    seen_via: str | None = field(metadata=_col(Post.seen_via))
    content: list[dict[str, Any]] = field(metadata=_col(Post.content))
    id: int = field(metadata=_col(Post.id))
    time_precision: str | None = field(metadata=_col(Post.time_precision))
    client: str | None = field(metadata=_col(Post.client))
    # the store's own: in the bundle, not in `osint export posts`
    case_id: int = field(metadata=_col(Post.case_id, export=None))
    account_id: int = field(metadata=_col(Post.account_id, export=None))  # accounts.id
    text_html: str | None = field(metadata=_col(Post.text_html, export=None))
    metrics: dict[str, Any] = field(metadata=_col(Post.metrics, export=None))
    extra: dict[str, Any] = field(metadata=_col(Post.extra, export=None))
    capture_id: int | None = field(metadata=_col(Post.capture_id, export=None))


def post_field(f: Field[Any]) -> PostField:
    meta: PostField = f.metadata["post"]
    return meta


def record_fields(record: type[PostRow] = PostRow) -> list[Field[Any]]:
    """The fields of ``record`` that :class:`PostField` describes (a view's own are left out)."""
    return [f for f in fields(record) if "post" in f.metadata]


def export_name(f: Field[Any]) -> str | None:
    name = post_field(f).export
    return f.name if name == _SAME else name


def export_fields(record: type[PostRow] = PostRow) -> list[tuple[str, str]]:
    """(export name, field name) of every field of ``osint export posts``, in its order."""
    return [(name, f.name) for f in record_fields(record) if (name := export_name(f)) is not None]


def bundle_columns(record: type[PostRow] = PostRow) -> tuple[str, ...]:
    """The bundle's posts table columns: the record's posts columns, in the table's order."""
    names = {f.name for f in record_fields(record) if post_field(f).bundle}
    return tuple(c.name for c in Post.__table__.columns if c.name in names)


def _fields_holding(record: type[PostRow], kind: type) -> frozenset[str]:
    hints = get_type_hints(record)

    def holds(hint: Any) -> bool:  # kind, kind[...] or an optional kind
        return hint is kind or get_origin(hint) is kind or kind in get_args(hint)

    return frozenset(f.name for f in record_fields(record) if holds(hints[f.name]))


def time_fields(record: type[PostRow] = PostRow) -> frozenset[str]:
    """The fields holding a time (exports write them as ISO 8601 UTC)."""
    return _fields_holding(record, datetime)


def list_fields(record: type[PostRow] = PostRow) -> frozenset[str]:
    """The fields holding a list (exports write an empty one where the store has none)."""
    return _fields_holding(record, list)


def select_posts(record: type[PostRow] = PostRow, only: Iterable[str] | None = None) -> Select[Any]:
    """One statement reading every sourced field of ``record`` (or those named in ``only``),
    labelled with the field names: posts joined with their account and (when there is one)
    their capture."""
    wanted = None if only is None else set(only)
    columns = [
        post_field(f).source.label(f.name)
        for f in record_fields(record)
        if post_field(f).source is not None and (wanted is None or f.name in wanted)
    ]
    return (
        select(*columns)
        .select_from(Post)
        .join(Account, Account.id == Post.account_id)
        .outerjoin(Capture, Capture.id == Post.capture_id)
    )


def read_row(record: type[R], row: Any, **filled: Any) -> R:
    """A ``record`` from a row of :func:`select_posts` and the values the reader fills itself
    (the media, a view's own fields)."""
    return record(**row._mapping, **filled)
