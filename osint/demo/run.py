"""``osint demo``: the whole investigation, offline, on the synthetic Dia-Diarra-shaped world.

It starts the replay server on 127.0.0.1, collects every account of the scenario into a case
named ``demo`` with the real collectors, analyses the case, and writes the HTML report and the
evidence bundle. Nothing here is special-cased downstream: the collectors talk HTTP to the
replay server as they would to the platforms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from osint.bundle import export_bundle
from osint.cases import CaseSummary, case_summary, ensure_case
from osint.collect import collect_account
from osint.collectors.registry import COLLECTORS
from osint.config import Secret, Settings
from osint.demo.scenario import Scenario, build_scenario
from osint.demo.world import build_world, platform_handle
from osint.progress import NullProgress, Progress
from osint.replay import PLATFORM_APPS, ReplayServer
from osint.report import write_report
from osint.storage.db import Store

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
    progress = progress or NullProgress()
    scenario = scenario or build_scenario()
    platforms = demo_platforms()
    out.mkdir(parents=True, exist_ok=True)
    ensure_case(store, CASE)
    world = build_world(scenario, platforms)
    skipped = sorted({p.platform for p in scenario.personas.values()} - platforms)
    collected = 0
    with ReplayServer(world) as server:
        local = demo_settings(settings, server)
        for persona in scenario.personas.values():
            if persona.platform not in platforms:
                continue
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
    highlights = analyze(store, settings, CASE, progress) if analyze else []
    report = write_report(store, settings, CASE, out / "report.html")
    bundle = export_bundle(store, settings, CASE, out / "demo-bundle.zip", progress=progress)
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
    )
