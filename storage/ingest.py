"""Idempotent, batched writes of records into one case.

:class:`CaseWriter` works inside the caller's transaction, so a collector can commit a page of
posts together with its captures and its resume cursor: after a crash the store holds whole pages
or nothing of them. Writing the same records twice changes nothing but ``last_seen``; a changed
text becomes a new :class:`~storage.models.PostVersion` (an edit). Batches go to the database as
multi-row statements, with in-memory caches of account, media and object ids, which is what lets
an import write tens of thousands of posts a second.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import (
    Account,
    AccountSnapshot,
    Capture,
    Media,
    Post,
    PostMedia,
    PostObject,
    PostVersion,
    SharedObject,
)
from storage.records import (
    AccountRecord,
    CaptureRecord,
    MediaRef,
    PostRecord,
    ProfileRecord,
    text_sha256,
)
from storage.types import utcnow

_IN_CHUNK = 500  # ids per IN (...) clause


@dataclass
class EditedPost:
    post_id: int
    platform_id: str
    old_text: str | None
    new_text: str | None
    version_id: int


@dataclass
class PostWriteResult:
    ids: dict[str, int] = field(default_factory=dict)  # platform_id -> post id
    new: list[int] = field(default_factory=list)
    edited: list[EditedPost] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)


@dataclass
class SnapshotResult:
    snapshot_id: int
    created: bool
    previous_id: int | None


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def object_key_hash(modality: str, key: str) -> str:
    return hashlib.sha256(f"{modality}\x1f{key}".encode()).hexdigest()


class CaseWriter:
    """Writes records into one case through the caller's session (and transaction)."""

    def __init__(self, session: Session, case_id: int, *, source: str) -> None:
        self.session = session
        self.case_id = case_id
        self.source = source
        self._accounts: dict[tuple[str, str], tuple[int, str | None, str | None]] = {}
        self._media: dict[str, int] = {}
        self._objects: dict[tuple[str, str], int] = {}
        dialect = session.get_bind().dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    # -- captures ---------------------------------------------------------------------------
    def capture(self, rec: CaptureRecord, *, run_id: int | None = None) -> int:
        row = Capture(case_id=self.case_id, run_id=run_id, **rec.__dict__)
        self.session.add(row)
        self.session.flush()
        return row.id

    # -- accounts ---------------------------------------------------------------------------
    def accounts(
        self, records: Iterable[AccountRecord], *, seen_at: datetime | None = None
    ) -> dict[tuple[str, str], int]:
        """Ids of these accounts, inserting the unknown ones and refreshing changed names."""
        seen_at = seen_at or utcnow()
        wanted: dict[tuple[str, str], AccountRecord] = {}
        for rec in records:
            wanted[(rec.platform, rec.platform_id)] = rec
        missing = [k for k in wanted if k not in self._accounts]
        if missing:
            self._load_accounts(missing)
            absent = [k for k in missing if k not in self._accounts]
            if absent:
                rows = [self._account_row(wanted[k], seen_at) for k in absent]
                stmt = self._insert(Account.__table__).on_conflict_do_nothing()
                self.session.execute(stmt, rows)
                self._load_accounts(absent)
        updates = []
        for key, rec in wanted.items():
            acc_id, handle, name = self._accounts[key]
            if (rec.handle and rec.handle != handle) or (
                rec.display_name and rec.display_name != name
            ):
                updates.append(
                    {
                        "id": acc_id,
                        "handle": rec.handle or handle,
                        "display_name": rec.display_name or name,
                    }
                )
                self._accounts[key] = (acc_id, rec.handle or handle, rec.display_name or name)
        if updates:
            self.session.execute(update(Account), updates)
        return {k: self._accounts[k][0] for k in wanted}

    def _account_row(self, rec: AccountRecord, seen_at: datetime) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "platform": rec.platform,
            "platform_id": rec.platform_id,
            "handle": rec.handle,
            "display_name": rec.display_name,
            "status": rec.status,
            "created_at_platform": rec.created_at,
            "first_seen": seen_at,
            "last_seen": seen_at,
        }

    def _load_accounts(self, keys: Sequence[tuple[str, str]]) -> None:
        by_platform: dict[str, list[str]] = {}
        for platform, pid in keys:
            by_platform.setdefault(platform, []).append(pid)
        for platform, pids in by_platform.items():
            for chunk in _chunks(pids):
                rows = self.session.execute(
                    select(
                        Account.id, Account.platform_id, Account.handle, Account.display_name
                    ).where(
                        Account.case_id == self.case_id,
                        Account.platform == platform,
                        Account.platform_id.in_(chunk),
                    )
                )
                for acc_id, pid, handle, name in rows:
                    self._accounts[(platform, pid)] = (acc_id, handle, name)

    # -- profiles ---------------------------------------------------------------------------
    def snapshot(
        self,
        profile: ProfileRecord,
        *,
        captured_at: datetime,
        capture_id: int | None,
        avatar_media_id: int | None = None,
    ) -> SnapshotResult:
        """Record the profile; a new snapshot only when it differs from the latest one."""
        acc = profile.account
        account_id = self.accounts([acc], seen_at=captured_at)[(acc.platform, acc.platform_id)]
        fingerprint = profile.fingerprint()
        latest = self.session.execute(
            select(AccountSnapshot.id, AccountSnapshot.fingerprint)
            .where(AccountSnapshot.account_id == account_id)
            .order_by(AccountSnapshot.captured_at.desc(), AccountSnapshot.id.desc())
            .limit(1)
        ).first()
        self.session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(
                status=acc.status,
                last_seen=captured_at,
                **({"created_at_platform": acc.created_at} if acc.created_at else {}),
            )
        )
        if latest is not None and latest.fingerprint == fingerprint:
            return SnapshotResult(latest.id, created=False, previous_id=latest.id)
        snap = AccountSnapshot(
            account_id=account_id,
            captured_at=captured_at,
            capture_id=capture_id,
            fingerprint=fingerprint,
            handle=acc.handle,
            display_name=acc.display_name,
            bio=profile.bio,
            location=profile.location,
            url=profile.url,
            avatar_url=profile.avatar_url,
            avatar_media_id=avatar_media_id,
            banner_url=profile.banner_url,
            followers_count=profile.followers_count,
            following_count=profile.following_count,
            posts_count=profile.posts_count,
            listed_count=profile.listed_count,
            verified=profile.verified,
            protected=profile.protected,
            created_at_platform=acc.created_at,
            extra=profile.extra,
        )
        self.session.add(snap)
        self.session.flush()
        return SnapshotResult(snap.id, created=True, previous_id=latest.id if latest else None)

    def set_account_status(self, platform: str, platform_id: str, status: str) -> int | None:
        row = self.session.execute(
            select(Account.id).where(
                Account.case_id == self.case_id,
                Account.platform == platform,
                Account.platform_id == platform_id,
            )
        ).first()
        if row is None:
            return None
        self.session.execute(update(Account).where(Account.id == row.id).values(status=status))
        return int(row.id)

    # -- media ------------------------------------------------------------------------------
    def media(
        self,
        *,
        sha256: str,
        size: int,
        mime: str | None = None,
        width: int | None = None,
        height: int | None = None,
        exif: dict[str, Any] | None = None,
        status: str = "ok",
        note: str | None = None,
        source_url: str | None = None,
    ) -> int:
        """Id of the media row for these bytes, creating it on first sight."""
        if sha256 in self._media:
            return self._media[sha256]
        stmt = (
            self._insert(Media.__table__)
            .values(
                sha256=sha256,
                size=size,
                mime=mime,
                width=width,
                height=height,
                exif=exif or {},
                status=status,
                note=note,
                source_url=source_url,
                first_seen=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        self.session.execute(stmt)
        media_id = self.session.execute(select(Media.id).where(Media.sha256 == sha256)).scalar_one()
        self._media[sha256] = media_id
        return media_id

    def _media_ids(self, shas: Iterable[str]) -> dict[str, int]:
        missing = [s for s in set(shas) if s not in self._media]
        for chunk in _chunks(missing):
            for media_id, sha in self.session.execute(
                select(Media.id, Media.sha256).where(Media.sha256.in_(chunk))
            ):
                self._media[sha] = media_id
        return self._media

    # -- posts ------------------------------------------------------------------------------
    def posts(
        self, records: Sequence[PostRecord], *, seen_at: datetime | None = None
    ) -> PostWriteResult:
        """Store a batch of posts: new ones inserted, known ones refreshed, edits versioned."""
        seen_at = seen_at or utcnow()
        result = PostWriteResult()
        if not records:
            return result
        unique: dict[tuple[str, str], PostRecord] = {}
        for rec in records:
            key = (rec.platform, rec.platform_id)
            earlier = unique.get(key)
            if earlier is not None and earlier.objects != rec.objects:
                rec.objects = list(dict.fromkeys([*earlier.objects, *rec.objects]))
            unique[key] = rec
        account_ids = self.accounts((r.account for r in unique.values()), seen_at=seen_at)
        existing = self._existing_posts(list(unique))
        fresh = [r for k, r in unique.items() if k not in existing]
        if fresh:
            inserted = self._insert_posts(fresh, account_ids, seen_at)
            existing_race = [r for r in fresh if r.platform_id not in inserted]
            for rec in fresh:
                if rec.platform_id in inserted:
                    result.ids[rec.platform_id] = inserted[rec.platform_id]
                    result.new.append(inserted[rec.platform_id])
            if existing_race:
                existing.update(
                    self._existing_posts([(r.platform, r.platform_id) for r in existing_race])
                )
            new_recs = [r for r in fresh if r.platform_id in inserted]
            self._insert_versions(new_recs, inserted, seen_at)
            self._write_media_links(new_recs, inserted, known={})
            self._write_objects(new_recs, inserted, account_ids)
        known = [r for k, r in unique.items() if k in existing]
        if known:
            self._refresh_posts(known, existing, seen_at, result)
            self._write_objects([r for r in known if r.objects], result.ids, account_ids)
        return result

    def _existing_posts(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        found: dict[tuple[str, str], Any] = {}
        by_platform: dict[str, list[str]] = {}
        for platform, pid in keys:
            by_platform.setdefault(platform, []).append(pid)
        for platform, pids in by_platform.items():
            for chunk in _chunks(pids):
                rows = self.session.execute(
                    select(
                        Post.id, Post.platform_id, Post.text, Post.text_html, Post.deleted_at
                    ).where(
                        Post.case_id == self.case_id,
                        Post.platform == platform,
                        Post.platform_id.in_(chunk),
                    )
                )
                for row in rows:
                    found[(platform, row.platform_id)] = row
        return found

    def _insert_posts(
        self, recs: Sequence[PostRecord], account_ids: dict[tuple[str, str], int], seen_at: datetime
    ) -> dict[str, int]:
        rows = [
            {
                "case_id": self.case_id,
                "account_id": account_ids[(r.account.platform, r.account.platform_id)],
                "platform": r.platform,
                "platform_id": r.platform_id,
                "created_at": r.created_at,
                "kind": r.kind,
                "text": r.text,
                "text_html": r.text_html,
                "url": r.url,
                "lang": r.lang,
                "repost_of": r.repost_of,
                "reply_to": r.reply_to,
                "quote_of": r.quote_of,
                "links": r.links,
                "hashtags": r.hashtags,
                "mentions": r.mentions,
                "metrics": r.metrics,
                "extra": r.extra,
                "source": self.source,
                "first_seen": seen_at,
                "last_seen": seen_at,
                "capture_id": r.capture_id,
            }
            for r in recs
        ]
        table: Table = Post.__table__  # type: ignore[assignment]
        stmt = (
            self._insert(table).on_conflict_do_nothing().returning(table.c.id, table.c.platform_id)
        )
        return {pid: pk for pk, pid in self.session.execute(stmt, rows)}

    def _insert_versions(
        self, recs: Sequence[PostRecord], ids: dict[str, int], seen_at: datetime
    ) -> None:
        rows = [
            {
                "post_id": ids[r.platform_id],
                "text": r.text,
                "text_html": r.text_html,
                "text_sha256": text_sha256(r.text, r.text_html),
                "captured_at": seen_at,
                "capture_id": r.capture_id,
            }
            for r in recs
        ]
        if rows:
            self.session.execute(self._insert(PostVersion.__table__).on_conflict_do_nothing(), rows)

    def _write_media_links(
        self,
        recs: Sequence[PostRecord],
        ids: dict[str, int],
        known: dict[int, dict[int, int | None]],
    ) -> None:
        """Insert missing attachments; fill in media ids that were missing before."""
        refs: list[tuple[int, MediaRef, int | None]] = []
        media_ids = self._media_ids(m.sha256 for r in recs for m in r.media if m.sha256)
        for rec in recs:
            for ref in rec.media:
                refs.append((ids[rec.platform_id], ref, rec.capture_id))
        inserts, fills = [], []
        for post_id, ref, capture_id in refs:
            media_id = media_ids.get(ref.sha256) if ref.sha256 else None
            have = known.get(post_id, {})
            if ref.position not in have:
                inserts.append(
                    {
                        "post_id": post_id,
                        "position": ref.position,
                        "media_id": media_id,
                        "kind": ref.kind,
                        "source_url": ref.source_url,
                        "preview_url": ref.preview_url,
                        "alt_text": ref.alt_text,
                        "platform_key": ref.platform_key,
                        "error": ref.error,
                        "capture_id": capture_id,
                    }
                )
            elif have[ref.position] is None and media_id is not None:
                fills.append((post_id, ref.position, media_id))
        if inserts:
            self.session.execute(
                self._insert(PostMedia.__table__).on_conflict_do_nothing(), inserts
            )
        for post_id, position, media_id in fills:
            self.session.execute(
                update(PostMedia)
                .where(PostMedia.post_id == post_id, PostMedia.position == position)
                .values(media_id=media_id, error=None)
            )

    def _object_ids(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        missing = [k for k in keys if k not in self._objects]
        if missing:
            hashes = {object_key_hash(m, k): (m, k) for m, k in missing}
            rows = [
                {"case_id": self.case_id, "modality": m, "key": k, "key_hash": h}
                for h, (m, k) in hashes.items()
            ]
            self.session.execute(
                self._insert(SharedObject.__table__).on_conflict_do_nothing(), rows
            )
            for chunk in _chunks(list(hashes)):
                for obj_id, h in self.session.execute(
                    select(SharedObject.id, SharedObject.key_hash).where(
                        SharedObject.case_id == self.case_id, SharedObject.key_hash.in_(chunk)
                    )
                ):
                    self._objects[hashes[h]] = obj_id
        return self._objects

    def _write_objects(
        self,
        recs: Sequence[PostRecord],
        ids: dict[str, int],
        account_ids: dict[tuple[str, str], int],
    ) -> None:
        object_ids = self._object_ids({o for r in recs for o in r.objects})
        rows = []
        for rec in recs:
            account_id = account_ids[(rec.account.platform, rec.account.platform_id)]
            ts = int(rec.created_at.timestamp())
            for obj in dict.fromkeys(rec.objects):
                rows.append(
                    {
                        "post_id": ids[rec.platform_id],
                        "object_id": object_ids[obj],
                        "case_id": self.case_id,
                        "account_id": account_id,
                        "ts": ts,
                    }
                )
        if rows:
            self.session.execute(self._insert(PostObject.__table__).on_conflict_do_nothing(), rows)

    def _refresh_posts(
        self,
        recs: Sequence[PostRecord],
        existing: dict[tuple[str, str], Any],
        seen_at: datetime,
        result: PostWriteResult,
    ) -> None:
        ids = {r.platform_id: existing[(r.platform, r.platform_id)].id for r in recs}
        result.ids.update(ids)
        touched = []
        for rec in recs:
            row = existing[(rec.platform, rec.platform_id)]
            values: dict[str, Any] = {"id": row.id, "last_seen": seen_at}
            if text_sha256(rec.text, rec.text_html) != text_sha256(row.text, row.text_html):
                version = PostVersion(
                    post_id=row.id,
                    text=rec.text,
                    text_html=rec.text_html,
                    text_sha256=text_sha256(rec.text, rec.text_html),
                    captured_at=seen_at,
                    capture_id=rec.capture_id,
                )
                self.session.add(version)
                self.session.flush()
                values.update(text=rec.text, text_html=rec.text_html, capture_id=rec.capture_id)
                result.edited.append(
                    EditedPost(row.id, rec.platform_id, row.text, rec.text, version.id)
                )
            else:
                result.unchanged.append(row.id)
            touched.append(values)
        self.session.execute(update(Post), touched)
        with_media = [r for r in recs if r.media]
        if with_media:
            known: dict[int, dict[int, int | None]] = {}
            post_ids = [ids[r.platform_id] for r in with_media]
            for chunk in _chunks(post_ids):
                for post_id, position, media_id in self.session.execute(
                    select(PostMedia.post_id, PostMedia.position, PostMedia.media_id).where(
                        PostMedia.post_id.in_(chunk)
                    )
                ):
                    known.setdefault(post_id, {})[position] = media_id
            self._write_media_links(with_media, ids, known)

    # -- batched captures and media (the collection engine writes a page's worth at once) -----
    def captures(self, records: Sequence[CaptureRecord], *, run_id: int | None = None) -> list[int]:
        """Insert these captures in one statement; their ids, in the same order."""
        if not records:
            return []
        table: Table = Capture.__table__  # type: ignore[assignment]
        rows = [{"case_id": self.case_id, "run_id": run_id, **rec.__dict__} for rec in records]
        stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        return [int(row.id) for row in self.session.execute(stmt, rows)]

    def media_many(self, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Ids of these media files (keyword rows as for :meth:`media`), creating the new ones."""
        fresh = {r["sha256"]: r for r in rows if r["sha256"] not in self._media}
        if fresh:
            self._media_ids(list(fresh))
            missing = [
                {"exif": {}, "status": "ok", "first_seen": utcnow(), **row}
                for sha, row in fresh.items()
                if sha not in self._media
            ]
            if missing:
                table: Table = Media.__table__  # type: ignore[assignment]
                self.session.execute(self._insert(table).on_conflict_do_nothing(), missing)
                self._media_ids([row["sha256"] for row in missing])
        return {r["sha256"]: self._media[r["sha256"]] for r in rows}
