"""Logging is set up once, by the CLI: ``-v`` shows osint's info and debug lines, without it
only warnings; no other module configures handlers or levels."""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from osint.cli import cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def osint_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("osint")
    level, handlers = logger.level, list(logger.handlers)
    yield logger
    logger.setLevel(level)
    logger.handlers[:] = handlers


@pytest.mark.parametrize("verbose, shown", [(True, True), (False, False)])
def test_verbose_sets_the_level_of_osint_logs(
    osint_logger: logging.Logger,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    verbose: bool,
    shown: bool,
) -> None:
    args = ["--home", str(tmp_path), *(["-v"] if verbose else []), "case", "list"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    capsys.readouterr()
    logging.getLogger("osint.collectors.http").info("retrying example.org in 1.00 s")
    logging.getLogger("osint.analyzers.coordination").warning("2 viral object(s) capped")
    err = capsys.readouterr().err
    assert ("retrying example.org" in err) is shown
    assert "viral object(s) capped" in err  # warnings always
    assert len([h for h in osint_logger.handlers if h.level == logging.NOTSET]) == 1


def _configuring_calls(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in {"basicConfig", "addHandler"}:
            yield f"{path.relative_to(ROOT)}:{node.lineno} {node.attr}"


def test_no_module_but_the_cli_configures_logging() -> None:
    found = [
        call
        for top in ("osint", "analyzers", "collectors", "storage")
        for path in sorted((ROOT / top).rglob("*.py"))
        if path.name != "cli.py"
        for call in _configuring_calls(path)
    ]
    assert found == []
    assert list(_configuring_calls(ROOT / "cli.py"))  # and the CLI does
