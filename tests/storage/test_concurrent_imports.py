"""N imports at once into one case, on the real servers: nobody deadlocks, nothing is lost.

Each importer is an ``osint`` process of its own with small batches (many transactions that
overlap), and the files share their accounts and objects, so every writer inserts rows the
others insert too: what used to end in ``DeadlockDetected`` on PostgreSQL.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from osint.cases import create_case
from osint.config import load_settings
from osint.storage.models import Account, CollectionRun, Post, PostObject, SharedObject
from osint.store import open_store

ROWS = 3_000
IMPORTER = r"""
import sys
from osint import imports
from osint.config import load_settings
from osint.store import open_store
imports.BATCH = 250
settings = load_settings(home=sys.argv[1], db=sys.argv[2], environ={})
summary = imports.import_shares(open_store(settings), settings, case="c", path=sys.argv[3])
print(summary.posts_new, summary.problem_count)
"""


def shares_file(path: Path, writer: int) -> set[str]:
    """Rows of this writer's own posts, by accounts and objects every writer shares."""
    rng = random.Random(writer)
    accounts = [f"acc{n:04d}" for n in range(400)]
    lines = ["object_id,account_id,content_id,timestamp_share"]
    for i in range(ROWS):
        obj = f"obj{int(300 * rng.random() ** 2):04d}"
        lines.append(f"{obj},{rng.choice(accounts)},w{writer}-{i},{1650530000 + i}")
    path.write_text("\n".join(lines) + "\n")
    return {line.split(",")[1] for line in lines[1:]}


def run_importers(url: str, tmp_path: Path, writers: int) -> None:
    home = tmp_path / "home"
    settings = load_settings(home=home, db=url, environ={})
    store = open_store(settings)
    create_case(store, "c")
    accounts: set[str] = set()
    files = []
    for writer in range(writers):
        files.append(tmp_path / f"w{writer}.csv")
        accounts |= shares_file(files[-1], writer)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", IMPORTER, str(home), url, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in files
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert out.split() == [str(ROWS), "0"]
    with store.reader() as s:
        count = lambda model: s.execute(select(func.count()).select_from(model)).scalar_one()  # noqa: E731
        assert count(Post) == writers * ROWS
        assert count(PostObject) == writers * ROWS
        assert count(Account) == len(accounts)
        assert count(SharedObject) <= 300
        statuses = s.execute(select(CollectionRun.status)).scalars().all()
    assert statuses == ["completed"] * writers
    store.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("writers", [4, 8])
def test_concurrent_imports_on_postgres(pg_url: str, tmp_path: Path, writers: int) -> None:
    run_importers(pg_url, tmp_path, writers)


def test_concurrent_imports_on_sqlite(tmp_path: Path) -> None:
    run_importers(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path, 4)
