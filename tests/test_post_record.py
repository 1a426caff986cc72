"""One shape per post: ``osint export posts``, the bundle's posts table and the report's post
view all come from :class:`osint.storage.postrow.PostRow`, and agree on every value they share."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pytest

from osint.bundle import export_bundle
from osint.config import Settings
from osint.export import FIELDS, export_posts, iter_post_records
from osint.report.data import PostView, load_posts_by_id
from osint.storage.casetables import EXPORT_TABLES
from osint.storage.db import Store
from osint.storage.models import Account, Post
from osint.storage.postrow import (
    PostField,
    PostRow,
    bundle_columns,
    export_fields,
    export_name,
    record_fields,
)
from osint.writers import utc_iso
from tests.casebuild import BuiltCase, build_case


@pytest.fixture
def built(store: Store, settings: Settings) -> BuiltCase:
    return build_case(store, settings)


@dataclass(frozen=True, kw_only=True)
class WiderRow(PostRow):
    """The record with one more field, as a contributor would add it."""

    account_display_name: str | None = field(
        metadata={"post": PostField(Account.display_name, "account_name", bundle=False)}
    )


def test_the_export_columns_and_the_bundle_table_are_the_records_fields() -> None:
    assert [export_name(f) for f in record_fields() if export_name(f)] == FIELDS
    (posts,) = [t for t in EXPORT_TABLES if t.name == "posts"]
    assert posts.columns == list(bundle_columns())
    # every column the store keeps of a post is a field of the record, so none is left out
    # of the bundle unseen
    assert set(bundle_columns()) == {c.name for c in Post.__table__.columns}
    assert {f.name for f in fields(PostRow)} <= {f.name for f in fields(PostView)}
    # a new field shows in the export, under its export name, and nowhere it was not asked
    assert ("account_name", "account_display_name") in export_fields(WiderRow)
    assert ("account_name", "account_display_name") not in export_fields(PostRow)
    assert bundle_columns(WiderRow) == bundle_columns(PostRow)


def test_a_field_added_to_the_record_is_exported_with_its_value(
    built: BuiltCase, store: Store
) -> None:
    out = io.StringIO()
    count = export_posts(store, built.name, out, fmt="csv", record=WiderRow)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == count == len(built.post_ids)
    assert list(rows[0]) == [name for name, _ in export_fields(WiderRow)]
    with store.reader() as session:
        names = {a.platform_id: a.display_name for a in session.query(Account)}
    assert any(r["account_name"] for r in rows)
    for row in rows:
        assert row["account_name"] == (names[row["account_id"]] or "")


def _bundle_posts(path: Path) -> dict[int, dict[str, Any]]:
    with zipfile.ZipFile(path) as zf:
        lines = zf.read("data/posts.jsonl").decode().splitlines()
    return {post["id"]: post for post in map(json.loads, lines)}


def test_the_two_post_exports_and_the_report_agree_on_every_shared_value(
    built: BuiltCase, store: Store, settings: Settings, tmp_path: Path
) -> None:
    exported = {r["id"]: r for r in iter_post_records(store, built.name)}
    bundled = _bundle_posts(export_bundle(store, settings, built.name, tmp_path / "c.zip").path)
    assert set(exported) == set(bundled) == set(built.post_ids)
    with store.reader() as session:
        views = load_posts_by_id(session, built.post_ids)
        accounts = {a.id: a.platform_id for a in session.query(Account)}
    shared = [(export_name(f), f.name) for f in record_fields() if f.metadata["post"].bundle]
    shared = [(e, b) for e, b in shared if e is not None]
    assert ("post_id", "platform_id") in shared and ("id", "id") in shared
    for post_id, record in exported.items():
        row = bundled[post_id]
        for export, column in shared:
            assert record[export] == row[column] or (record[export] == [] and row[column] is None)
        # the export's account_id is the platform's id of the account the bundle row names
        assert record["account_id"] == accounts[row["account_id"]]
        view = views[post_id]
        assert (view.account_id, view.platform_id) == (row["account_id"], row["platform_id"])
        assert utc_iso(view.created_at) == record["created_at"]
        assert utc_iso(view.capture_fetched_at) == record["capture_fetched_at"]
        assert view.capture_sha256 == record["capture_sha256"] and view.text == record["text"]
