"""Benchmark: ``osint demo`` end to end, and where its time goes.

Runs the real command (``osint.cli.main(["demo", ...])``) in a fresh interpreter, as the
``osint`` script would, on a fresh data folder, and reads the parts of the run from its
``DemoResult.timings`` (drawing the pictures, building the replay world, collecting each
platform over loopback, analysis, report, bundle, verify); "start-up" is the rest: imports,
opening and migrating the new store, printing. The wall time is compared with the 20 s budget
of issue 17 (a quiet machine); the CPU time of the demo's process is printed beside it, because
on a busy machine the wall time mostly measures the other processes (the image-hashing workers
start from a forkserver, which is not the demo's child: their CPU time is not in that figure). The same run also times a plain
``python -c pass`` start, for scale. Byte-code is cached first (one import of the demo's modules),
as in an installed wheel, even under PYTHONDONTWRITEBYTECODE.
Last line: ``demo: <seconds> s (<ratio>x the 20 s budget)``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 20.0
RESULT_PREFIX = "BENCH-DEMO-TIMINGS "

# The command line's own demo command, with run_demo wrapped to hand its timings back.
DRIVER = f"""
import json, sys
import osint.demo.run as demo_run

results = []
original = demo_run.run_demo

def run_demo(*args, **kwargs):
    result = original(*args, **kwargs)
    results.append(result)
    return result

demo_run.run_demo = run_demo
from osint.cli import main

code = main(["demo", "--out", sys.argv[1]])
if code == 0:
    r = results[0]
    print({RESULT_PREFIX!r} + json.dumps({{"timings": r.timings, "seconds": r.seconds,
          "posts": r.case.posts, "media": r.case.media, "findings": r.case.findings,
          "files_verified": r.files_verified}}))
sys.exit(code)
"""


# Imports everything the demo loads once, so that its byte-code is cached before the timed run.
WARM_UP = "import osint.cli, osint.demo.run, osint.analysis.pipeline, osint.analysis.images_pass"


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _python_start(env: dict[str, str]) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def run() -> str:
    # As a user's shell: no OSINT_ settings, byte-code cached (an installed wheel ships it).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OSINT_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    out = Path(tempfile.mkdtemp(prefix="osint-bench-demo-"))
    try:
        subprocess.run([sys.executable, "-c", WARM_UP], env=env, check=True)
        start_s = _python_start(env)
        cpu_before = _child_cpu()
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", DRIVER, str(out / "demo")],
            capture_output=True,
            text=True,
            env=env,
            cwd=out,
            check=False,
        )
        wall = time.perf_counter() - started
        cpu = _child_cpu() - cpu_before
    finally:
        shutil.rmtree(out, ignore_errors=True)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"osint demo failed ({result.returncode}): {result.stderr[-2000:]}")
    report = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    timings: dict[str, float] = report["timings"]
    parts = {"start-up (imports, store, output)": wall - report["seconds"], **timings}
    other = report["seconds"] - sum(timings.values())
    parts["other (case, summary)"] = other
    for name, seconds in parts.items():
        print(f"   {name:<36} {seconds:6.2f} s  {seconds / wall:5.1%}", flush=True)
    print(
        f"   wall {wall:.1f} s, CPU {cpu:.1f} s (the demo's process, without the hashing workers); "
        f"{report['posts']:,} posts, {report['media']:,} images, {report['findings']} findings, "
        f"{report['files_verified']:,} files verified; python -c pass {start_s * 1000:.0f} ms",
        flush=True,
    )
    return f"demo: {wall:.1f} s ({wall / BUDGET_S:.2f}x the {BUDGET_S:.0f} s budget)"


if __name__ == "__main__":
    print(run())
