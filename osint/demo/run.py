"""``osint demo``: the whole investigation, offline, on the synthetic Dia-Diarra-shaped world.

It starts the replay server on 127.0.0.1, collects every account of the scenario into a case
named ``demo`` with the real collectors, analyses the case, writes the HTML report and the
evidence bundle, and checks the bundle as ``osint verify`` would. Nothing here is special-cased
downstream: the collectors talk HTTP to the replay server as they would to the platforms.
``DemoResult.timings`` says where the time went (``python -m bench demo`` prints it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from osint.bundle import export_bundle
from osint.cases import case_summary, ensure_case
from osint.collect import collect_account
from osint.collectors.registry import COLLECTORS
from osint.config import Secret, Settings
from osint.demo.replay import PLATFORM_APPS, ReplayServer, World
from osint.demo.scenario import Scenario, build_scenario
from osint.demo.world import build_world, platform_handle
from osint.errors import VerifyError
from osint.progress import NullProgress, Progress
from osint.report import write_report
from osint.storage.catalog import CaseSummary
from osint.storage.db import Store
from osint.verify import verify_bundle

CASE = "demo"
DEMO_TOKEN = "demo-token-not-a-secret"  # noqa: S105 (the loopback server accepts any token)


@dataclass
class DemoResult:
    case: CaseSummary
    home: Path
    report: Path
    bundle: Path
    manifest_sha256: str
    seconds: float
    collected: int
    skipped: list[str] = field(default_factory=list)
    highlights: list[str] = field(default_factory=list)
    files_verified: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # part -> seconds, in run order


class _Stopwatch:
    """Seconds spent per part of the run; a part timed twice adds up."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = {}

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.parts[name] = self.parts.get(name, 0.0) + time.perf_counter() - started


def demo_platforms() -> set[str]:
    """Platforms with both a collector and a replay app."""
    served = {app.name for app in PLATFORM_APPS}
    return {c.platform for c in COLLECTORS} & served


def demo_settings(settings: Settings, server: ReplayServer) -> Settings:
    """Point every collector at the loopback server; no pacing needed on loopback."""
    return settings.with_overrides(
        **server.settings_overrides(),
        x_bearer_token=Secret(DEMO_TOKEN),
        http_min_interval=0.0,
        http_backoff=0.05,
        max_rate_wait=5.0,
    )


def _collect_world(
    store: Store,
    settings: Settings,
    scenario: Scenario,
    world: World,
    platforms: set[str],
    clock: _Stopwatch,
    progress: Progress,
) -> int:
    """Collect every persona of the world with the real collectors; how many were collected."""
    collected = 0
    with ReplayServer(world) as server:
        local = demo_settings(settings, server)
        for persona in scenario.personas.values():
            if persona.platform not in platforms:
                continue
            with clock.part(f"collect {persona.platform}"):
                collect_account(
                    store,
                    local,
                    platform=persona.platform,
                    target=platform_handle(persona),
                    case=CASE,
                    progress=progress,
                )
            collected += 1
            progress.update("accounts", advance=1, total=len(scenario.personas))
    return collected


def run_demo(
    store: Store,
    settings: Settings,
    *,
    out: Path,
    analyze: Callable[[Store, Settings, str, Progress], list[str]] | None = None,
    scenario: Scenario | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Collect, analyse and report the demo world into the case ``demo``; see the module doc."""
    started = time.monotonic()
    clock = _Stopwatch()
    progress = progress or NullProgress()
    platforms = demo_platforms()
    out.mkdir(parents=True, exist_ok=True)
    ensure_case(store, CASE)
    with clock.part("draw images"):
        scenario = scenario or build_scenario()
        scenario.images  # noqa: B018 (drawn here, so that the world's time is its own)
    with clock.part("build world"):
        world = build_world(scenario, platforms)
    skipped = sorted({p.platform for p in scenario.personas.values()} - platforms)
    collected = _collect_world(store, settings, scenario, world, platforms, clock, progress)
    with clock.part("analyze"):
        highlights = analyze(store, settings, CASE, progress) if analyze else []
    with clock.part("report"):
        report = write_report(store, settings, CASE, out / "report.html")
    with clock.part("bundle"):
        bundle = export_bundle(store, settings, CASE, out / "demo-bundle.zip", progress=progress)
    with clock.part("verify"):
        checked = verify_bundle(bundle.path)
    if not checked.ok:
        raise VerifyError(
            f"the demo's own bundle {bundle.path} failed verification: {checked.problems[0]}"
        )
    return DemoResult(
        case=case_summary(store, CASE),
        home=settings.home,
        report=report.path,
        bundle=bundle.path,
        manifest_sha256=bundle.manifest_sha256,
        seconds=time.monotonic() - started,
        collected=collected,
        skipped=skipped,
        highlights=highlights,
        files_verified=checked.files_checked,
        timings=clock.parts,
    )
