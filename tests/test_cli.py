from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from osint.cli import cli
from tests.conftest import CliRun


def test_version(run_cli: CliRun) -> None:
    import osint

    assert osint.__version__ in run_cli("--version").stdout


def test_case_new_list_show(run_cli: CliRun) -> None:
    run_cli("case", "new", "mali-2022", "--title", "Gossi grave", "--description", "staged?")
    listing = run_cli("case", "list").stdout
    assert "mali-2022" in listing and "Gossi grave" in listing
    shown = run_cli("case", "show", "mali-2022").stdout
    assert re.search(r"posts\s+0", shown) and "staged?" in shown


def test_case_list_prints_the_same_on_the_light_and_the_full_path(
    run_cli: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    from osint import store as store_module

    run_cli("case", "new", "mali-2022", "--title", "Gossi grave")
    run_cli("case", "new", "second")
    light = run_cli("case", "list").stdout
    calls: list[object] = []

    def full_store_only(settings: object) -> None:
        calls.append(settings)
        return None

    monkeypatch.setattr(store_module, "quick_case_list", full_store_only)
    full = run_cli("case", "list").stdout
    assert calls, "the full path did not run"
    assert light == full
    assert light.index("mali-2022") < light.index("second")


def test_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    import osint.cli as cli_module

    screen = io.StringIO()
    lazy = cli_module._LazyConsole(file=screen, force_terminal=True, width=80)
    monkeypatch.setattr(cli_module, "err_console", lazy)
    with cli_module.TerminalProgress() as progress:
        assert progress.live
        progress.update("posts", advance=3, total=4)
    assert "posts" in screen.getvalue() and "3/4" in screen.getvalue()


def test_duplicate_case_is_one_line_and_exit_2(run_cli: CliRun) -> None:
    run_cli("case", "new", "dup")
    result = run_cli("case", "new", "dup", expect=2)
    assert result.stderr.strip() == "error: a case named 'dup' already exists (choose another name)"
    assert "Traceback" not in result.stderr


def test_unknown_case(run_cli: CliRun) -> None:
    result = run_cli("case", "show", "nope", expect=2)
    assert "no case named 'nope'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bad_case_name(run_cli: CliRun) -> None:
    assert "bad case name" in run_cli("case", "new", "../x", expect=2).stderr


def test_db_upgrade(run_cli: CliRun) -> None:
    assert "latest schema" in run_cli("db", "upgrade").stdout


def test_malformed_db_url(home: Path) -> None:
    run = CliRun(home, "definitely not a url")
    result = run("case", "list", expect=2)
    assert "not a database URL" in result.stderr


def test_postgres_down_is_a_clear_error(home: Path) -> None:
    run = CliRun(home, "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2")
    result = run("case", "list", expect=2)
    assert "cannot open the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_home_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRun(blocker / "home", f"sqlite:///{tmp_path / 'x.db'}")("case", "list", expect=2)
    assert "cannot create the data folder" in result.stderr


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, cmd in group.commands.items():
        found.append((f"{prefix}{name}", cmd))
        if isinstance(cmd, click.Group):
            found.extend(_commands(cmd, f"{prefix}{name} "))
    return found


@pytest.mark.parametrize("name,cmd", _commands(cli), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_has_help_ending_with_an_example(name: str, cmd: click.Command) -> None:
    assert cmd.help, f"osint {name} has no help"
    last = cmd.help.strip().splitlines()[-1].strip()
    assert last.startswith("Example: osint"), f"osint {name}: help must end with an example"


def _parsed_command(argv: list[str]) -> list[str]:
    """The command path ``osint ARGV`` resolves to, parsing every option on the way (a wrong
    option or value raises click's usage error)."""
    ctx, command, path = cli.make_context("osint", list(argv)), cli, []
    # what a group leaves for its subcommand (click 8.2 keeps the first words apart, privately)
    while isinstance(command, click.Group) and (left := [*ctx._protected_args, *ctx.args]):
        name, sub, rest = command.resolve_command(ctx, left)
        assert name is not None and sub is not None
        path.append(name)
        ctx, command = sub.make_context(name, rest, parent=ctx), sub
    return path


@pytest.mark.parametrize("name,cmd", _commands(cli), ids=lambda v: v if isinstance(v, str) else "")
def test_every_example_is_a_command_line_that_parses(
    name: str, cmd: click.Command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example runs the command it documents, with options and values it accepts."""
    import shlex

    assert cmd.help
    example = cmd.help.strip().splitlines()[-1].strip().removeprefix("Example: osint")
    monkeypatch.chdir(tmp_path)  # files an option wants to exist are made here, empty
    for _ in range(3):
        try:
            path = _parsed_command(shlex.split(example))
            break
        except click.BadParameter as exc:
            kind = exc.param.type if exc.param is not None else None
            if not (isinstance(kind, click.Path) and kind.exists and "does not exist" in str(exc)):
                raise
            (tmp_path / str(exc.message).split("'")[1]).touch()
    assert path[: len(name.split())] == name.split(), f"osint {name}: example runs {path}"


def test_console_script_installed(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("osint")
    result = subprocess.run(
        [str(exe), "--home", str(tmp_path), "case", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "no cases yet" in result.stdout
