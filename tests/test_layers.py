"""The layer contract, read from the source: every import of every module, including the ones
made inside functions, points down the layers (cli -> osint services -> collectors, analyzers,
storage), and tests and bench/ never import each other. A new arrow the wrong way fails here,
with the file and line that draws it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Modules of osint/ that every layer may use: the exception tree, the settings, and small
# value helpers that know nothing of the store, the network or the commands.
FOUNDATION = {"osint.errors", "osint.config", "osint.lazy", "osint.timestamp"}

# Arrows known to point the wrong way, each with why it is still there. Empty is the goal.
ALLOWED: dict[tuple[str, str], str] = {}


def _layer_of_file(path: Path) -> str | None:
    rel = path.relative_to(ROOT)
    top = rel.parts[0]
    if top in {"analyzers", "collectors", "storage", "bench", "tests"}:
        return top
    if rel in {Path("cli.py"), Path("osint/__main__.py")}:  # `python -m osint` is the CLI
        return "cli"
    if top == "osint":
        return "services"
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] in {"analyzers", "collectors", "storage"} or parts == ["cli"]:
        parts = ["osint", *parts]  # they are imported through their osint/ symlinks
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer_of_module(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] == "osint":
        if name in FOUNDATION or len(parts) == 1:
            return None
        if parts[1] in {"analyzers", "collectors", "storage"}:
            return parts[1]
        if parts[1] == "cli":
            return "cli"
        return "services"
    if parts[0] in {"bench", "tests", "httpx", "sqlalchemy"}:
        return parts[0]
    if parts[0] == "cli":
        return "cli"
    return None


def _sources() -> Iterator[Path]:
    for top in ("analyzers", "collectors", "storage", "osint", "bench", "tests"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if any(part.startswith(".") for part in path.relative_to(ROOT).parts):
                continue  # bench/.venvs/ (the baselines' own installs), caches: not our code
            # osint/ holds symlinks to the root packages: each file is read once, from its root
            if top == "osint" and path.relative_to(ROOT / "osint").parts[0] in {
                "analyzers", "collectors", "storage", "cli.py"
            }:  # fmt: skip
                continue
            if "migrations" in path.parts:
                continue
            yield path


def _is_module(name: str) -> bool:
    if name.startswith("osint."):
        path = ROOT / "osint" / Path(*name.split(".")[1:])
    else:
        path = ROOT / Path(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # `from osint import cases` imports osint.cases
                if _is_module(f"{target}.{alias.name}"):
                    yield node.lineno, f"{target}.{alias.name}"


FORBIDDEN = {
    "analyzers": {"services", "storage", "collectors", "cli", "httpx", "sqlalchemy"},
    "collectors": {"services", "cli"},
    "storage": {"services", "cli"},
    "services": {"cli"},
    "bench": {"tests"},
    "tests": {"bench"},  # what both need (generators, photos, fast loaders) is in osint/synth/
}


def _violations() -> list[str]:
    found = []
    for path in _sources():
        layer = _layer_of_file(path)
        if layer not in FORBIDDEN:
            continue
        for line, target in _imports(path):
            if _layer_of_module(target) not in FORBIDDEN[layer]:
                continue
            key = (str(path.relative_to(ROOT)), target)
            if key not in ALLOWED:
                found.append(f"{key[0]}:{line} ({layer}) imports {target}")
    return sorted(set(found))


def test_imports_point_down_the_layers() -> None:
    assert _violations() == []


def test_the_walk_sees_imports_inside_functions_and_relative_ones() -> None:
    # cli.py imports each service inside its command function; the walk must see those.
    cli_targets = {target for _, target in _imports(ROOT / "cli.py")}
    assert "osint.cases" in cli_targets
    assert _layer_of_module("osint.cases") == "services"
    assert {target for _, target in _imports(ROOT / "collectors" / "http.py")} >= {
        "httpx",
        "osint.storage.records",
    }


def test_each_allowed_arrow_still_exists() -> None:
    """An allow-list entry whose import is gone must be deleted, so the list only shrinks."""
    gone = [key for key in ALLOWED if key[1] not in {t for _, t in _imports(ROOT / key[0])}]
    assert gone == []


def test_tests_and_bench_are_walked_and_kept_apart() -> None:
    walked = {path.relative_to(ROOT).parts[0] for path in _sources()}
    assert {"tests", "bench"} <= walked
    assert "bench" in FORBIDDEN["tests"] and "tests" in FORBIDDEN["bench"]
    assert _layer_of_module("bench.imports") == "bench"
    assert _layer_of_module("tests.analyzers.photos") == "tests"
