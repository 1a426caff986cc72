"""Start-up: `osint --help`, `--version` and `case list` load only what they use.

Each check runs in a fresh interpreter and looks at ``sys.modules`` after the command: a module
imported at the top of cli.py (or by a package's ``__init__``) would show up here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from osint import defaults

# Never needed to print help or the version.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "psycopg",
    "psycopg2",
    "numpy",
    "PIL",
    "imagehash",
    "jinja2",
    "httpx",
    "networkx",
    "warcio",
    "rich",
    "osint.analysis",
    "osint.bundle",
    "osint.collect",
    "osint.collectors",
    "osint.imports",
    "osint.monitor.worker",
    "osint.report.build",
    "osint.storage.db",
    "osint.storage.models",
    "osint.verify",
)
# `case list` on a ready SQLite store: rich prints the table, sqlite3 reads it; nothing else.
LISTING_ALLOWED = ("rich",)

PROBE = """
import contextlib, io, json, sys
from osint.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _run(*args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def _loaded(modules: object, prefixes: tuple[str, ...]) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["export", "--help"]])
def test_help_and_version_load_no_heavy_module(args: list[str]) -> None:
    probe = _run(*args)
    assert probe["code"] == 0
    assert "osint" in str(probe["out"])
    assert _loaded(probe["modules"], HEAVY) == []


def test_every_sub_command_help_loads_no_heavy_module() -> None:
    probe = _run("analyze", "images", "--help")
    assert "--threshold" in str(probe["out"]) and f"default: {defaults.IMAGE_RADIUS}" in str(
        probe["out"]
    )
    assert _loaded(probe["modules"], HEAVY) == []


def test_case_list_on_a_ready_store_loads_no_database_library(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _run("--home", str(home), "case", "list")  # creates and migrates the store
    assert "no cases yet" in str(first["out"])
    assert "sqlalchemy" in _loaded(first["modules"], ("sqlalchemy",))  # the full store did it
    again = _run("--home", str(home), "case", "list")
    assert "no cases yet" in str(again["out"])
    heavy = tuple(p for p in HEAVY if p not in LISTING_ALLOWED)
    assert _loaded(again["modules"], heavy) == []


def test_case_list_on_a_ready_postgresql_store_loads_no_database_library(
    pg_url: str, tmp_path: Path
) -> None:
    # psycopg2 answers: neither psycopg (90 ms of imports) nor SQLAlchemy or alembic.
    probe = _run("--home", str(tmp_path), "--db", pg_url, "case", "list")
    assert "no cases yet" in str(probe["out"])
    heavy = tuple(p for p in HEAVY if p not in (*LISTING_ALLOWED, "psycopg2"))
    assert _loaded(probe["modules"], heavy) == []
    assert "psycopg2" in _loaded(probe["modules"], ("psycopg2",))


def test_a_ready_store_opens_without_alembic(tmp_path: Path) -> None:
    # The schema is checked with one statement against the migration files' head; alembic (and
    # its import) only when there is something to migrate.
    home = tmp_path / "home"
    first = _run("--home", str(home), "case", "new", "gossi")
    assert first["code"] == 0 and _loaded(first["modules"], ("alembic",))  # created, migrated
    again = _run("--home", str(home), "case", "show", "gossi")
    assert again["code"] == 0 and "gossi" in str(again["out"])
    assert _loaded(again["modules"], ("sqlalchemy",)) and not _loaded(
        again["modules"], ("alembic",)
    )


def test_cli_defaults_are_the_services_defaults() -> None:
    from osint.analysis.coordination_pass import CoordinationOptions
    from osint.analysis.export import NETWORK_FORMATS
    from osint.analysis.images_pass import EXPORT_FORMATS
    from osint.analyzers.imagematch import DEFAULT_RADIUS
    from osint.export import FORMATS
    from osint.report import ReportLimits

    assert CoordinationOptions().window == defaults.COORDINATION_WINDOW
    assert defaults.IMAGE_RADIUS == DEFAULT_RADIUS
    assert defaults.IMAGE_EXPORT_FORMATS == EXPORT_FORMATS
    assert defaults.NETWORK_FORMATS == NETWORK_FORMATS
    assert defaults.POST_EXPORT_FORMATS == FORMATS
    assert ReportLimits().max_posts == defaults.REPORT_MAX_POSTS
