"""Two osint processes writing to one SQLite file at once: no "database is locked", nothing lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from osint.cases import create_case
from osint.config import load_settings
from osint.storage.db import create_store_engine, current_revision, head_revision
from osint.store import open_store

WRITER = r"""
import sys
from datetime import UTC, datetime, timedelta
from osint.config import load_settings
from osint.store import open_store
from osint.storage.db import create_store_engine, current_revision, head_revision
from osint.storage.ingest import CaseWriter
from osint.storage.records import AccountRecord, PostRecord
home, db, tag = sys.argv[1], sys.argv[2], sys.argv[3]
store = open_store(load_settings(home=home, db=db, environ={}))
acc = AccountRecord(platform="x", platform_id="acc-" + tag)
t0 = datetime(2022, 4, 21, tzinfo=UTC)
for batch in range(40):
    posts = [PostRecord(platform="x", platform_id=f"{tag}-{batch}-{i}", account=acc,
                        created_at=t0 + timedelta(seconds=i), text="x" * 50) for i in range(25)]
    with store.session() as s:
        case_id = s.execute(__import__("sqlalchemy").text("select id from cases")).scalar_one()
        CaseWriter(s, case_id, source="t").posts(posts)
store.dispose()
print("done")
"""


def test_two_processes_write_without_locking_errors(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    store = open_store(load_settings(home=home, db=db, environ={}))
    create_case(store, "shared")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(home), db, tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err
    with store.reader() as s:
        from sqlalchemy import text

        assert s.execute(text("select count(*) from posts")).scalar_one() == 2 * 40 * 25
    store.dispose()


def test_two_processes_migrating_a_fresh_database_at_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = (
        "import sys; from osint.config import load_settings; from osint.store import open_store;"
        "open_store(load_settings(home=sys.argv[1], db=sys.argv[2], environ={})).dispose()"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "h"), db], stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err


@pytest.mark.postgres
def test_concurrent_migration_on_postgres(pg_schema_factory: object, tmp_path: Path) -> None:
    url = pg_schema_factory(migrate=False)  # type: ignore[operator]
    code = (
        "import sys; from osint.config import load_settings; from osint.store import open_store;"
        "open_store(load_settings(home=sys.argv[1], db=sys.argv[2], environ={})).dispose()"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "h"), url],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    engine = create_store_engine(make_url(url))
    assert current_revision(engine) == head_revision()
    engine.dispose()
