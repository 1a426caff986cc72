"""The install puts nothing generic at the top of site-packages: the design card's folders are
imported only as ``osint.collectors``, ``osint.analyzers``, ``osint.storage`` and ``osint.cli``."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINKED = ("collectors", "analyzers", "storage", "cli")


def _python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "*.py"], capture_output=True, text=True, check=True
    ).stdout.split()
    return [REPO / name for name in listed if not (REPO / name).is_symlink()]


def test_no_module_imports_a_linked_folder_by_its_top_level_name() -> None:
    offenders = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(REPO)}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in LINKED
            ]
    assert offenders == []


def test_linked_folders_resolve_inside_the_osint_package() -> None:
    for name in LINKED:
        link = REPO / "osint" / (f"{name}.py" if name == "cli" else name)
        assert link.is_symlink(), link
        assert link.resolve() == (REPO / (f"{name}.py" if name == "cli" else name)).resolve()


def test_python_dash_m_osint_runs_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "osint", "--version"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert "osint" in result.stdout


def test_the_wheel_installs_only_the_osint_package(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".ci-venv", "build", "*.egg-info", "__pycache__", ".pytest_cache",
        "osint-demo", ".mypy_cache", ".ruff_cache",
    ))  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    import zipfile

    (wheel,) = tmp_path.glob("osint-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        assert {top for top in tops if not top.endswith(".dist-info")} == {"osint"}
        members = set(archive.namelist())
    for module in (
        "osint/cli.py",
        "osint/collectors/x.py",
        "osint/storage/models.py",
        "osint/analyzers/coordination.py",
        "osint/storage/migrations/env.py",
    ):
        assert module in members, module
