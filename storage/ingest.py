"""Idempotent, batched writes of records into one case.

:class:`CaseWriter` works inside the caller's transaction, so a collector can commit a page of
posts together with its captures and its resume cursor: after a crash the store holds whole pages
or nothing of them. Writing the same records twice changes nothing but ``last_seen``; a post
captured again with other content follows the new capture and a changed text becomes a new
:class:`~storage.models.PostVersion` (an edit; :mod:`storage.edits`). Records the store cannot
hold are refused one by one (:mod:`storage.checks`), never a whole batch. Rows go in key order,
so that writers sharing accounts and objects take them in the same order. Batches go to the database as
multi-row statements, with in-memory caches of account, media and object ids, which is what lets
an import write tens of thousands of posts a second.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from osint.storage.bulk import BulkRows
from osint.storage.checks import ID_CHARS, Unfit, fit_post
from osint.storage.columns import (
    ACCOUNT_COLUMNS,
    MEDIA_LINK_COLUMNS,
    OBJECT_COLUMNS,
    POST_COLUMNS,
    POST_OBJECT_COLUMNS,
    VERSION_COLUMNS,
    encoded_post,
    encoding_of,
    forget_encoding,
    media_link_row,
    post_epoch,
    post_row,
)
from osint.storage.edits import (
    KNOWN_COLUMNS,
    Known,
    known_from_row,
    refresh_known,
    replace_objects,
    version_rows,
)
from osint.storage.models import (
    Account,
    AccountSnapshot,
    Capture,
    Media,
    Post,
    PostMedia,
)
from osint.storage.queries import chunks
from osint.storage.records import (
    AccountRecord,
    CaptureRecord,
    PostRecord,
    ProfileRecord,
)
from osint.storage.types import utcnow

_CACHE_LIMIT = 200_000  # ids kept in memory per cache (accounts, media, objects)


@dataclass
class EditedPost:
    post_id: int
    platform_id: str
    old_text: str | None
    new_text: str | None
    version_id: int


@dataclass
class PostWriteResult:
    """Where each record of a batch went: every record is counted once.

    ``new`` posts were inserted; known posts are ``edited`` (their text changed: a new version)
    or ``unchanged`` (same text; ``refreshed`` names those whose other fields changed and now
    follow this capture); ``repeated`` counts records of a post that the same capture or run
    had already written (twice in the batch, or in an earlier batch of the same file, when the
    run passes one ``seen_at`` for all its batches); ``refused``
    the records the store cannot hold (:func:`storage.checks.fit_post`), with the reason.
    """

    ids: dict[str, int] = field(default_factory=dict)  # platform_id -> post id
    new: list[int] = field(default_factory=list)
    edited: list[EditedPost] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    refreshed: list[int] = field(default_factory=list)
    repeated: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (platform_id, why)


@dataclass
class SnapshotResult:
    snapshot_id: int
    created: bool
    previous_id: int | None


class CaseGone(Exception):
    """The case being written to was deleted meanwhile; nothing more can be written to it."""


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
        self._objects_old: dict[tuple[str, str], int] = {}  # the generation before (see trim)
        dialect = session.get_bind().dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self._bulk = BulkRows(session)
        # SQLite: insert the objects missing from the cache straight away (a fresh import's are
        # mostly new) and read back only those already stored; PostgreSQL looks them up first,
        # as its COPY fails whole on a conflict. Turned off while most turn out to be stored.
        self._objects_mostly_new = not self._bulk.is_postgres

    @property
    def bulk(self) -> BulkRows:
        """The fast lane, on whichever session the writer has now (one per batch, often)."""
        self._bulk.session = self.session
        return self._bulk

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
            # in key order: two writers inserting the same accounts take them in the same order
            absent = sorted(k for k in missing if k not in self._accounts)
            if absent:
                self._insert_accounts([wanted[k] for k in absent], seen_at)
        updates = []
        for key, rec in wanted.items():
            if not rec.handle and not rec.display_name:
                continue
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
            updates.sort(key=lambda row: int(row["id"] or 0))
            self.session.execute(update(Account), updates)
        accounts = self._accounts
        return {k: accounts[k][0] for k in wanted}

    def _insert_accounts(self, recs: Sequence[AccountRecord], seen_at: datetime) -> None:
        bulk = self.bulk
        ids = bulk.allocate_ids("accounts", len(recs))
        seen = bulk.utc(seen_at)
        rows = [
            (
                acc_id,
                self.case_id,
                rec.platform,
                rec.platform_id,
                rec.handle,
                rec.display_name,
                rec.status,
                bulk.utc(rec.created_at),
                seen,
                seen,
            )
            for acc_id, rec in zip(ids, recs, strict=True)
        ]
        inserted = bulk.insert_new("accounts", ACCOUNT_COLUMNS, rows)
        for acc_id, rec in zip(ids, recs, strict=True):
            if inserted is None or acc_id in inserted:
                self._accounts[(rec.platform, rec.platform_id)] = (
                    acc_id,
                    rec.handle,
                    rec.display_name,
                )
        raced = [
            (r.platform, r.platform_id)
            for r in recs
            if (r.platform, r.platform_id) not in self._accounts
        ]
        if raced:  # another writer created them meanwhile: take its ids
            self._load_accounts(raced)

    def _load_accounts(self, keys: Sequence[tuple[str, str]]) -> None:
        by_platform: dict[str, list[str]] = {}
        for platform, pid in keys:
            by_platform.setdefault(platform, []).append(pid)
        for platform, pids in by_platform.items():
            for acc_id, pid, handle, name in self.bulk.select_in(
                "accounts",
                ("id", "platform_id", "handle", "display_name"),
                {"case_id": self.case_id, "platform": platform},
                "platform_id",
                pids,
            ):
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
            self._insert(Media)
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
        for chunk in chunks(missing):
            for media_id, sha in self.session.execute(
                select(Media.id, Media.sha256).where(Media.sha256.in_(chunk))
            ):
                self._media[sha] = media_id
        return self._media

    # -- posts ------------------------------------------------------------------------------
    def posts(
        self,
        records: Sequence[PostRecord],
        *,
        seen_at: datetime | None = None,
        checked: bool = False,
    ) -> PostWriteResult:
        """Store a batch of posts: new ones inserted, known ones refreshed, edits versioned.

        ``checked``: every record already went through :func:`storage.checks.fit_post` (the
        importers do it where they can name the line); otherwise it is done here, and the
        records the store cannot hold are left out and listed in ``refused``.
        """
        seen_at = seen_at or utcnow()
        result = PostWriteResult()
        if not checked:
            records = self._fit(records, result)
        if not records:
            return result
        unique = _unique_posts(records)
        result.repeated = len(records) - len(unique)
        account_ids = self.accounts((r.account for r in unique.values()), seen_at=seen_at)
        existing = self._existing_posts(list(unique))
        fresh = [unique[k] for k in sorted(unique) if k not in existing]  # in key order
        if fresh:
            inserted = self._insert_posts(fresh, account_ids, seen_at)
            new_recs = [r for r in fresh if r.platform_id in inserted]
            for rec in new_recs:
                result.ids[rec.platform_id] = inserted[rec.platform_id]
            result.new.extend(result.ids.values())
            if len(new_recs) < len(fresh):  # another writer stored some of them meanwhile
                raced = [
                    (r.platform, r.platform_id) for r in fresh if r.platform_id not in inserted
                ]
                existing.update(self._existing_posts(raced))
            self._insert_versions(new_recs, inserted, seen_at)
            self._write_media_links(new_recs, inserted, known={})
            self._write_objects(new_recs, inserted, account_ids, may_conflict=False)
        known = [r for k, r in unique.items() if k in existing]
        if known:
            changed = refresh_known(self, known, existing, seen_at, result)
            replace_objects(self, changed, result.ids)
            self._refresh_collection_fields(known, result.ids)
            with_objects = [r for r in known if r.objects]
            self._write_objects(with_objects, result.ids, account_ids, may_conflict=True)
        self._trim_caches()
        return result

    @staticmethod
    def _fit(records: Sequence[PostRecord], result: PostWriteResult) -> list[PostRecord]:
        kept = []
        for rec in records:
            try:
                if fit_post(rec):  # repaired: what was encoded before is stale
                    forget_encoding(rec)
            except Unfit as exc:
                result.refused.append((str(rec.platform_id)[:ID_CHARS], str(exc)))
                continue
            kept.append(rec)
        return kept

    def check_case(self) -> None:
        """Fail (``CaseGone``) unless this writer's case still exists, in this transaction.

        On PostgreSQL the case row is locked (``FOR KEY SHARE``, what a foreign-key check
        takes) until the commit: deleting the case waits for this transaction's rows.
        """
        found = self.bulk.lock_rows("cases", [self.case_id])
        if not found:
            raise CaseGone(f"case {self.case_id} was deleted while this import was running")

    def reset_caches(self) -> None:
        """Forget cached ids: after a rolled-back transaction they may name rows never stored."""
        for cache in (self._accounts, self._media, self._objects, self._objects_old):
            cache.clear()

    def _trim_caches(self) -> None:
        # Bounded memory on any input size: a cache past its limit starts again (a re-read
        # costs one query per batch; an unbounded cache would grow with every distinct key).
        for cache in (self._accounts, self._media):
            if len(cache) > _CACHE_LIMIT:
                cache.clear()
        # Objects are mostly unique (texts, URLs), and the few popular ones (hashtags, domains,
        # reposts) would be read again after each clear: a full cache becomes the old generation
        # instead, whose keys used again come back (at most twice the limit in memory).
        if len(self._objects) > _CACHE_LIMIT:
            self._objects_old = self._objects
            self._objects = {}

    def _existing_posts(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Known]:
        found: dict[tuple[str, str], Known] = {}
        by_platform: dict[str, list[str]] = {}
        for platform, pid in keys:
            by_platform.setdefault(platform, []).append(pid)
        for platform, pids in by_platform.items():
            for row in self.bulk.select_in(
                "posts",
                KNOWN_COLUMNS,
                {"case_id": self.case_id, "platform": platform},
                "platform_id",
                pids,
            ):
                found[(platform, row[1])] = known_from_row(row)
        return found

    def _insert_posts(
        self, recs: Sequence[PostRecord], account_ids: dict[tuple[str, str], int], seen_at: datetime
    ) -> dict[str, int]:
        """Insert new posts; the ids of those this call inserted (by platform id)."""
        bulk = self.bulk
        ids = bulk.allocate_ids("posts", len(recs))
        seen, case_id, source = bulk.utc(seen_at), self.case_id, self.source
        zone = "+00:00" if bulk.is_postgres else ""  # encoded times are SQLite's UTC text
        rows = [
            post_row(
                (
                    post_id,
                    case_id,
                    account_ids[(r.account.platform, r.account.platform_id)],
                    source,
                    seen,
                    seen,
                    r.capture_id,
                ),
                encoding_of(r),
                zone,
            )
            for post_id, r in zip(ids, recs, strict=True)
        ]
        inserted = bulk.insert_new("posts", POST_COLUMNS, rows)
        return {
            r.platform_id: post_id
            for post_id, r in zip(ids, recs, strict=True)
            if inserted is None or post_id in inserted
        }

    def _insert_versions(
        self, recs: Sequence[PostRecord], ids: dict[str, int], seen_at: datetime
    ) -> None:
        rows = version_rows(self, recs, ids, seen_at)
        self.bulk.insert("post_versions", VERSION_COLUMNS, rows, may_conflict=False)

    def _write_media_links(
        self,
        recs: Sequence[PostRecord],
        ids: dict[str, int],
        known: dict[int, dict[int, int | None]],
    ) -> None:
        """Insert missing attachments; fill in media ids that were missing before."""
        with_media = [r for r in recs if r.media]
        if not with_media:
            return
        media_ids = self._media_ids(m.sha256 for r in with_media for m in r.media if m.sha256)
        inserts, fills = [], []
        for rec in with_media:
            post_id = ids[rec.platform_id]
            have = known.get(post_id, {})
            for ref in rec.media:
                media_id = media_ids.get(ref.sha256) if ref.sha256 else None
                if ref.position not in have:
                    inserts.append(media_link_row(post_id, ref, media_id, rec.capture_id))
                elif have[ref.position] is None and media_id is not None:
                    fills.append((post_id, ref.position, media_id))
        self.bulk.insert("post_media", MEDIA_LINK_COLUMNS, inserts)
        for post_id, position, media_id in fills:
            self.session.execute(
                update(PostMedia)
                .where(PostMedia.post_id == post_id, PostMedia.position == position)
                .values(media_id=media_id, error=None)
            )

    def _object_ids(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Ids of these content keys (the objects missing from the case created); the dict
        returned holds at least ``keys`` until the next batch."""
        cache, old = self._objects, self._objects_old
        # set.difference(dict) looks each key up with the hash the set holds: a comprehension
        # hashed every (modality, key) tuple again (2.3 s of a 1M-post import's 27).
        missing = keys.difference(cache)
        if missing and old:  # the previous generation: its hits come back into the cache
            kept = missing - missing.difference(old)
            if kept:
                cache.update({k: old[k] for k in kept})
                missing -= kept
        if not missing:
            return cache
        # (key hash, key) in hash order: new objects take their ids, and (on PostgreSQL) their
        # row locks, in the same order in every writer.
        wanted = sorted((object_key_hash(*key), key) for key in missing)
        if self._objects_mostly_new:
            absent = wanted
        else:
            self._load_objects(wanted)
            absent = [hk for hk in wanted if hk[1] not in cache]
            # An import into a case that holds few of its keys yet: insert first from now on.
            self._objects_mostly_new = not self.bulk.is_postgres and len(absent) > len(wanted) // 2
        if absent:
            self._insert_objects(absent)
        return cache

    def _insert_objects(self, absent: list[tuple[str, tuple[str, str]]]) -> None:
        """Create these objects (hash order); the ids of those another writer (or, inserting
        first, the case itself) already holds are read back."""
        cache, case_id = self._objects, self.case_id
        ids = self.bulk.allocate_ids("shared_objects", len(absent))
        rows = [(i, case_id, m, k, h) for i, (h, (m, k)) in zip(ids, absent, strict=True)]
        inserted = self.bulk.insert_new("shared_objects", OBJECT_COLUMNS, rows)
        if inserted is None:
            cache.update(zip([key for _, key in absent], ids, strict=True))
            return
        for i, (_, key) in zip(ids, absent, strict=True):
            if i in inserted:
                cache[key] = i
        known = [hk for hk in absent if hk[1] not in cache]
        self._load_objects(known)
        if self._objects_mostly_new and len(known) > len(absent) // 2:
            self._objects_mostly_new = False  # most were there before: look them up first

    def _load_objects(self, wanted: Sequence[tuple[str, tuple[str, str]]]) -> None:
        """Cache the ids of those of these (key hash, key) the case holds."""
        # By modality: the unique index is (case_id, modality, key_hash); without the modality
        # the lookup would walk every object of the case.
        by_modality: dict[str, list[str]] = {}
        keys: dict[str, tuple[str, str]] = {}
        for key_hash, key in wanted:
            by_modality.setdefault(key[0], []).append(key_hash)
            keys[key_hash] = key
        for modality, hashes in by_modality.items():
            for obj_id, key_hash in self.bulk.select_in(
                "shared_objects",
                ("id", "key_hash"),
                {"case_id": self.case_id, "modality": modality},
                "key_hash",
                hashes,
            ):
                self._objects[keys[key_hash]] = obj_id

    def _write_objects(
        self,
        recs: Sequence[PostRecord],
        ids: dict[str, int],
        account_ids: dict[tuple[str, str], int],
        *,
        may_conflict: bool,
    ) -> None:
        object_ids = self._object_ids({o for r in recs for o in r.objects})
        case_id = self.case_id
        rows: list[tuple[int, int, int, int, int]] = []
        add = rows.append
        for rec in recs:
            objects = rec.objects
            if not objects:
                continue
            post_id = ids[rec.platform_id]
            acc = rec.account
            account_id = account_ids[(acc.platform, acc.platform_id)]
            enc = encoded_post(rec)
            ts = int(rec.created_at.timestamp()) if enc is None else post_epoch(enc)
            if len(objects) == 1:  # a shares row, a plain retweet: one key
                add((post_id, object_ids[objects[0]], case_id, account_id, ts))
                continue
            # keyed records hold each key once (add_content_keys); merged or given ones may not
            unique = objects if len(objects) < 3 else dict.fromkeys(objects)
            if len(unique) == 2 and objects[0] == objects[1]:
                unique = objects[:1]
            rows += [(post_id, object_ids[obj], case_id, account_id, ts) for obj in unique]
        if may_conflict:  # rows other writers may hold too: take them in key order
            rows.sort()
        self.bulk.insert("post_objects", POST_OBJECT_COLUMNS, rows, may_conflict=may_conflict)

    def media_ids_of(self, shas: Iterable[str]) -> dict[str, int]:
        """Media ids by SHA-256 (of those stored), from the cache or the database."""
        return self._media_ids(shas)

    def insert_media_links(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert ``post_media`` rows (:data:`MEDIA_LINK_COLUMNS`), skipping existing ones."""
        self.bulk.insert("post_media", MEDIA_LINK_COLUMNS, rows)

    def _refresh_collection_fields(self, recs: Sequence[PostRecord], ids: dict[str, int]) -> None:
        """Known posts: structured content follows the latest capture that has some; a post
        collected from its own account is no longer only "seen through a reference"."""
        collected = [ids[r.platform_id] for r in recs if r.seen_via is None]
        for chunk in chunks(collected):
            self.session.execute(
                update(Post)
                .where(Post.id.in_(chunk), Post.seen_via.is_not(None))
                .values(seen_via=None)
            )
        for rec in recs:
            if rec.content:
                self.session.execute(
                    update(Post).where(Post.id == ids[rec.platform_id]).values(content=rec.content)
                )

    def media_outcomes(self, outcomes: Sequence[MediaOutcome]) -> None:
        """Record what downloading each pending attachment gave: its file, or a failed attempt
        (with when the next run may try again), or nothing yet (left pending)."""
        for o in outcomes:
            values: dict[str, Any]
            if o.media_id is not None:
                values = {"media_id": o.media_id, "error": None, "retry_after": None}
            elif o.attempted:
                values = {"error": o.error, "retry_after": o.retry_after}
            else:
                values = {"error": o.error}
            if o.attempted:
                values["attempts"] = func.coalesce(PostMedia.attempts, 0) + 1
            self.session.execute(
                update(PostMedia)
                .where(PostMedia.post_id == o.post_id, PostMedia.position == o.position)
                .values(**values)
            )

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


@dataclass(frozen=True)
class MediaOutcome:
    """One attachment's download result, for :meth:`CaseWriter.media_outcomes`."""

    post_id: int
    position: int
    media_id: int | None = None
    error: str | None = None
    attempted: bool = True  # False: skipped this run (its host unreachable), still pending
    retry_after: datetime | None = None


def _unique_posts(records: Sequence[PostRecord]) -> dict[tuple[str, str], PostRecord]:
    """One record per post; the same post twice in a batch keeps the objects of both."""
    unique: dict[tuple[str, str], PostRecord] = {}
    for rec in records:
        key = (rec.platform, rec.platform_id)
        earlier = unique.get(key)
        if earlier is not None and earlier.objects != rec.objects:
            rec.objects = list(dict.fromkeys([*earlier.objects, *rec.objects]))
        unique[key] = rec
    return unique
