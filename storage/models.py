"""Typed SQLAlchemy 2.0 models of the case store.

Everything collected belongs to a Case. Accounts and posts are unique per case by
(platform, platform id), which is what makes re-collection and re-import idempotent. Every record
knows the Capture it came from (URL, UTC time, HTTP status, SHA-256 of the raw body, where the raw
body is kept): the chain of custody. Media are content-addressed by SHA-256 and shared by cases.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from osint.storage.kinds import AnalysisStatus, PostKind, RunStatus
from osint.storage.types import (
    BigId,
    JSONType,
    UTCDateTime,
    intpk,
    json_dict,
    json_list,
    sha256_hex,
    utc,
    utcnow,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _fk(target: str, *, nullable: bool = False, ondelete: str = "CASCADE") -> Any:
    return mapped_column(BigId, ForeignKey(target, ondelete=ondelete), nullable=nullable)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[utc] = mapped_column(default=utcnow)


class CollectionRun(Base):
    """One collection, import or monitoring run: what was asked, how far it got, what went wrong."""

    __tablename__ = "collection_runs"

    id: Mapped[intpk]
    case_id: Mapped[int] = _fk("cases.id")
    kind: Mapped[str] = mapped_column(String(20))  # a storage.kinds.RunKind
    platform: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(Text)
    params: Mapped[json_dict]
    state: Mapped[json_dict]  # resume point: cursors, newest id seen, pages done
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.RUNNING)  # a RunStatus
    started_at: Mapped[utc] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    counts: Mapped[json_dict]
    errors: Mapped[json_list]
    osint_version: Mapped[str] = mapped_column(String(40))
    hostname: Mapped[str] = mapped_column(String(255))
    operator: Mapped[str] = mapped_column(String(255))

    __table_args__ = (Index(None, "case_id", "platform", "target"),)


class Capture(Base):
    """One fetch (or one imported file): the chain of custody of everything derived from it."""

    __tablename__ = "captures"

    id: Mapped[intpk]
    case_id: Mapped[int] = _fk("cases.id")
    run_id: Mapped[int | None] = _fk("collection_runs.id", nullable=True, ondelete="SET NULL")
    url: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(10), default="GET")
    fetched_at: Mapped[utc]
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[sha256_hex]
    warc_file: Mapped[str | None] = mapped_column(Text)  # relative to OSINT_HOME
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)
    warc_length: Mapped[int | None] = mapped_column(BigInteger)
    warc_record_id: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "case_id", "fetched_at"),)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[intpk]
    case_id: Mapped[int] = _fk("cases.id")
    platform: Mapped[str] = mapped_column(String(40))
    platform_id: Mapped[str] = mapped_column(String(255))
    handle: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at_platform: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_seen: Mapped[utc] = mapped_column(default=utcnow)
    last_seen: Mapped[utc] = mapped_column(default=utcnow)
    capture_id: Mapped[int | None] = _fk("captures.id", nullable=True, ondelete="SET NULL")

    snapshots: Mapped[list[AccountSnapshot]] = relationship(
        back_populates="account", order_by="AccountSnapshot.captured_at", passive_deletes=True
    )

    __table_args__ = (
        UniqueConstraint("case_id", "platform", "platform_id"),
        Index(None, "case_id", "platform", "handle"),
    )


class AccountSnapshot(Base):
    """The profile as captured; a new row only when something in it changed."""

    __tablename__ = "account_snapshots"

    id: Mapped[intpk]
    account_id: Mapped[int] = _fk("accounts.id")
    captured_at: Mapped[utc]
    capture_id: Mapped[int | None] = _fk("captures.id", nullable=True, ondelete="SET NULL")
    fingerprint: Mapped[sha256_hex]
    handle: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(Text)
    bio: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    avatar_url: Mapped[str | None] = mapped_column(Text)
    avatar_media_id: Mapped[int | None] = _fk("media.id", nullable=True, ondelete="SET NULL")
    banner_url: Mapped[str | None] = mapped_column(Text)
    followers_count: Mapped[int | None] = mapped_column(BigInteger)
    following_count: Mapped[int | None] = mapped_column(BigInteger)
    posts_count: Mapped[int | None] = mapped_column(BigInteger)
    listed_count: Mapped[int | None] = mapped_column(BigInteger)
    verified: Mapped[bool | None] = mapped_column(Boolean)
    protected: Mapped[bool | None] = mapped_column(Boolean)
    created_at_platform: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extra: Mapped[json_dict]

    account: Mapped[Account] = relationship(back_populates="snapshots")

    __table_args__ = (Index(None, "account_id", "captured_at"),)


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[intpk]
    case_id: Mapped[int] = _fk("cases.id")
    account_id: Mapped[int] = _fk("accounts.id")
    platform: Mapped[str] = mapped_column(String(40))
    platform_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[utc]
    kind: Mapped[str] = mapped_column(String(10), default=PostKind.POST)  # a storage.kinds.PostKind
    text: Mapped[str | None] = mapped_column(Text)
    text_html: Mapped[str | None] = mapped_column(Text)  # original markup, kept as evidence
    url: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(20))
    repost_of: Mapped[str | None] = mapped_column(String(255))
    reply_to: Mapped[str | None] = mapped_column(String(255))
    quote_of: Mapped[str | None] = mapped_column(String(255))
    links: Mapped[json_list]
    hashtags: Mapped[json_list]
    mentions: Mapped[json_list]
    metrics: Mapped[json_dict]
    extra: Mapped[json_dict]
    source: Mapped[str] = mapped_column(String(40))  # collector or importer that stored it
    first_seen: Mapped[utc] = mapped_column(default=utcnow)
    last_seen: Mapped[utc] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    capture_id: Mapped[int | None] = _fk("captures.id", nullable=True, ondelete="SET NULL")
    # what the post holds besides text and media bytes, one typed item each (a poll, a place, a
    # document's name and size, a sticker's emoji, a round video): see storage.records.PostRecord
    content: Mapped[list[Any] | None] = mapped_column(JSONType)
    # None: collected from its account (or imported); "reference": seen only as what another
    # post reposted, quoted or replied to (its account was not collected)
    seen_via: Mapped[str | None] = mapped_column(String(20))
    # How precise ``created_at`` is when the source rounds it: "minute" for X's information-
    # operations archive (tweet_time); None for a time as precise as the platform gives it.
    time_precision: Mapped[str | None] = mapped_column(String(10))
    client: Mapped[str | None] = mapped_column(String(255))  # posting app, e.g. "dlvr.it"

    media_links: Mapped[list[PostMedia]] = relationship(
        order_by="PostMedia.position", passive_deletes=True
    )
    versions: Mapped[list[PostVersion]] = relationship(
        order_by="PostVersion.captured_at", passive_deletes=True
    )

    __table_args__ = (
        UniqueConstraint("case_id", "platform", "platform_id"),
        Index(None, "account_id", "created_at"),
        Index(None, "case_id", "created_at"),
    )


class PostVersion(Base):
    """Each distinct text a post was captured with: edits keep the old text and its fields."""

    __tablename__ = "post_versions"

    id: Mapped[intpk]
    post_id: Mapped[int] = _fk("posts.id")
    text: Mapped[str | None] = mapped_column(Text)
    text_html: Mapped[str | None] = mapped_column(Text)
    text_sha256: Mapped[sha256_hex]
    captured_at: Mapped[utc]
    capture_id: Mapped[int | None] = _fk("captures.id", nullable=True, ondelete="SET NULL")
    # what the post carried with this text, as first captured with it (the post row follows the
    # latest capture): links, hashtags, mentions, and attachments as {position, kind, source_url,
    # sha256}
    links: Mapped[json_list] = mapped_column(server_default="[]")
    hashtags: Mapped[json_list] = mapped_column(server_default="[]")
    mentions: Mapped[json_list] = mapped_column(server_default="[]")
    media: Mapped[json_list] = mapped_column(server_default="[]")

    __table_args__ = (UniqueConstraint("post_id", "text_sha256"),)


class Media(Base):
    """A file in the media store, by SHA-256 of its exact bytes; shared by every case that holds it."""

    __tablename__ = "media"

    id: Mapped[intpk]
    sha256: Mapped[sha256_hex] = mapped_column(unique=True)
    mime: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    exif: Mapped[json_dict]
    # ok | corrupt | truncated | bomb | not_image | unsupported | empty | unreadable
    # (analyzers.mediainspect.MediaStatus: the same for collected, imported and analysed bytes)
    status: Mapped[str] = mapped_column(String(20), default="ok")
    note: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[utc] = mapped_column(default=utcnow)


class PostMedia(Base):
    """A post's attachment; ``media_id`` is empty when the bytes could not be fetched (see error)."""

    __tablename__ = "post_media"

    id: Mapped[intpk]
    post_id: Mapped[int] = _fk("posts.id")
    position: Mapped[int] = mapped_column(Integer, default=0)
    media_id: Mapped[int | None] = _fk("media.id", nullable=True, ondelete="SET NULL")
    kind: Mapped[str] = mapped_column(String(20), default="photo")  # photo|video|gif|other
    source_url: Mapped[str | None] = mapped_column(Text)
    preview_url: Mapped[str | None] = mapped_column(Text)
    alt_text: Mapped[str | None] = mapped_column(Text)
    platform_key: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    capture_id: Mapped[int | None] = _fk("captures.id", nullable=True, ondelete="SET NULL")
    # downloads tried so far (None or 0 with no media_id: pending), and when the next run may
    # try again (back-off doubling per attempt): a plain re-run retries what failed
    attempts: Mapped[int | None] = mapped_column(Integer)
    retry_after: Mapped[datetime | None] = mapped_column(UTCDateTime())

    media: Mapped[Media | None] = relationship()

    __table_args__ = (UniqueConstraint("post_id", "position"), Index(None, "media_id"))


class SharedObject(Base):
    """Something posts share (a reposted post, a URL, a hashtag, a text, an image cluster)."""

    __tablename__ = "shared_objects"

    id: Mapped[intpk]
    case_id: Mapped[int] = _fk("cases.id")
    modality: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[sha256_hex]

    __table_args__ = (UniqueConstraint("case_id", "modality", "key_hash"),)


class PostObject(Base):
    """The content-key index the coordination analysis reads: who shared which object, when.

    ``case_id`` and ``account_id`` are copies of the post's, for scans without a join; they carry
    no foreign key of their own because ``post_id`` already ties the row to that post (and its
    cascade removes the row with the post, its account or its case). On PostgreSQL each foreign
    key is a per-row trigger, and two redundant ones cost an import a fifth of its time.
    """

    __tablename__ = "post_objects"

    post_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    object_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shared_objects.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[int] = mapped_column(BigId)
    account_id: Mapped[int] = mapped_column(BigId)
    ts: Mapped[int] = mapped_column(BigInteger)  # epoch seconds of the post, for fast scans

    __table_args__ = (Index(None, "case_id", "object_id", "ts"),)


class ImageHash(Base):
    """A perceptual hash of one media file, per algorithm and variant (original, mirrored, ...)."""

    __tablename__ = "image_hashes"

    id: Mapped[intpk]
    media_id: Mapped[int] = _fk("media.id")
    algorithm: Mapped[str] = mapped_column(String(20))
    variant: Mapped[str] = mapped_column(String(20), default="orig")
    value: Mapped[str] = mapped_column(Text)  # hex; a "grid" variant packs 51 hashes (816 digits)
    computed_at: Mapped[utc] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("media_id", "algorithm", "variant"),)


class ImageClusterMember(Base):
    """Membership of a media file in a cluster of copies of the same picture, per case."""

    __tablename__ = "image_cluster_members"

    id: Mapped[intpk]
    case_id: Mapped[int] = _fk("cases.id")
    cluster_no: Mapped[int] = mapped_column(Integer)
    media_id: Mapped[int] = _fk("media.id")
    distance: Mapped[int | None] = mapped_column(Integer)
    transforms: Mapped[json_list]
    representative: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("case_id", "media_id"),
        Index(None, "case_id", "cluster_no"),
    )


class Finding(Base):
    __tablename__ = "findings"

    id: Mapped[intpk]
    case_id: Mapped[int] = _fk("cases.id")
    analysis: Mapped[str] = mapped_column(String(40))  # images | coordination | timeline
    kind: Mapped[str] = mapped_column(String(60))
    score: Mapped[float] = mapped_column(Float)
    title: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text)
    details: Mapped[json_dict]
    created_at: Mapped[utc] = mapped_column(default=utcnow)

    evidence: Mapped[list[FindingEvidence]] = relationship(passive_deletes=True)

    __table_args__ = (Index(None, "case_id", "analysis"),)


class FindingEvidence(Base):
    __tablename__ = "finding_evidence"

    id: Mapped[intpk]
    finding_id: Mapped[int] = _fk("findings.id")
    account_id: Mapped[int | None] = _fk("accounts.id", nullable=True)
    post_id: Mapped[int | None] = _fk("posts.id", nullable=True)
    media_id: Mapped[int | None] = _fk("media.id", nullable=True)
    role: Mapped[str | None] = mapped_column(String(60))

    __table_args__ = (Index(None, "finding_id"),)


class MonitorJob(Base):
    """A scheduled, repeated collection of one target, with a lease so one worker runs it at a time."""

    __tablename__ = "monitor_jobs"

    id: Mapped[intpk]
    case_id: Mapped[int] = _fk("cases.id")
    platform: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(Text)
    schedule: Mapped[str] = mapped_column(String(100))
    options: Mapped[json_dict]
    # what change detection last reported (watermarks, profile, account status): see osint.monitor
    state: Mapped[json_dict]
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | paused
    next_run_at: Mapped[utc]
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[utc] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("case_id", "platform", "target"),
        Index(None, "status", "next_run_at"),
    )


class Event(Base):
    """A change seen by monitoring: new, edited or deleted post; profile change; account gone."""

    __tablename__ = "events"

    id: Mapped[intpk]
    case_id: Mapped[int] = _fk("cases.id")
    job_id: Mapped[int | None] = _fk("monitor_jobs.id", nullable=True, ondelete="SET NULL")
    run_id: Mapped[int | None] = _fk("collection_runs.id", nullable=True, ondelete="SET NULL")
    kind: Mapped[str] = mapped_column(String(40))
    # what the event is about ("post_new:<post id>", ...): one event per change, enforced here;
    # an event recorded without one gets a unique key of its own
    key: Mapped[str] = mapped_column(String(255), default=lambda: f"event:{uuid.uuid4().hex}")
    account_id: Mapped[int | None] = _fk("accounts.id", nullable=True)
    post_id: Mapped[int | None] = _fk("posts.id", nullable=True)
    detected_at: Mapped[utc] = mapped_column(default=utcnow)
    before: Mapped[json_dict]
    after: Mapped[json_dict]
    before_capture_id: Mapped[int | None] = _fk("captures.id", nullable=True, ondelete="SET NULL")
    after_capture_id: Mapped[int | None] = _fk("captures.id", nullable=True, ondelete="SET NULL")

    __table_args__ = (
        UniqueConstraint("case_id", "key"),
        Index(None, "case_id", "detected_at"),
    )


class AnalysisRun(Base):
    """One run of an analysis: the parameters it ran with and what it found, read by exports
    and the report (they never recompute with defaults of their own)."""

    __tablename__ = "analysis_runs"

    id: Mapped[intpk]
    case_id: Mapped[int] = _fk("cases.id")
    analysis: Mapped[str] = mapped_column(String(40))  # coordination
    status: Mapped[str] = mapped_column(String(20), default=AnalysisStatus.RUNNING)
    parameters: Mapped[json_dict]
    summary: Mapped[json_dict]  # counts, notes, the significance bar
    fingerprint: Mapped[json_dict]  # what the data was: rows, highest ids
    started_at: Mapped[utc] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    osint_version: Mapped[str] = mapped_column(String(40))

    __table_args__ = (Index(None, "case_id", "analysis"),)


class AnalysisRunData(Base):
    """A run's result arrays (co-share pairs, network edges) as compressed numpy archives,
    cut in parts that stay far below the databases' 1 GB value limit."""

    __tablename__ = "analysis_run_data"

    id: Mapped[intpk]
    run_id: Mapped[int] = _fk("analysis_runs.id")
    name: Mapped[str] = mapped_column(String(40))  # shares | pairs | network
    part: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (UniqueConstraint("run_id", "name", "part"),)


class AnalysisRunGroup(Base):
    """A candidate group of a coordination run, flagged or not, with every member's test."""

    __tablename__ = "analysis_run_groups"

    id: Mapped[intpk]
    run_id: Mapped[int] = _fk("analysis_runs.id")
    rank: Mapped[int] = mapped_column(Integer)
    flagged: Mapped[bool] = mapped_column(Boolean)
    size: Mapped[int] = mapped_column(Integer)
    p_value: Mapped[float] = mapped_column(Float)
    finding_id: Mapped[int | None] = _fk("findings.id", nullable=True, ondelete="SET NULL")
    title: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text)
    details: Mapped[json_dict]  # members with their tests, objects, the group's statistics

    __table_args__ = (Index(None, "run_id", "rank"),)
