"""Run the benchmarks: ``python -m bench`` (all) or ``python -m bench NAME [NAME ...]``.

Each benchmark module ``bench/NAME.py`` exposes ``run() -> str``. It measures osint and a baseline
in the same run (this machine is small and noisy, so only same-run ratios mean something) and
returns its summary line, ``NAME: <figure> (<ratio>x <baseline>)``, printed last.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    names = []
    for info in pkgutil.iter_modules([str(here)]):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "run", None)):
            names.append(info.name)
    return sorted(names)


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    lines = []
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        line = importlib.import_module(f"bench.{name}").run()
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
        print(line, flush=True)
        lines.append(line)
    if len(lines) > 1:
        print("\n== summary")
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
