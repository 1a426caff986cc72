"""`osint demo` analyses the collected demo world and finds its planted amplifier network."""

from __future__ import annotations

import io
import json
from pathlib import Path

from osint.analysis.export import export_findings
from osint.analysis.pipeline import analyze_for_demo
from osint.config import Settings
from osint.demo.run import CASE, run_demo
from osint.demo.scenario import Scenario
from osint.storage.db import Store


def test_demo_analysis_finds_the_amplifiers_not_the_late_sharers(
    store: Store, settings: Settings, tmp_path: Path, demo_scenario: Scenario
) -> None:
    scenario = demo_scenario
    result = run_demo(
        store, settings, out=tmp_path / "demo", analyze=analyze_for_demo, scenario=scenario
    )
    out = io.StringIO()
    export_findings(store, CASE, out, include_all=True)
    findings = [json.loads(line) for line in out.getvalue().splitlines()]
    persona = scenario.personas
    amplifiers = {
        persona[k].handle for k in scenario.truth.amplifiers if persona[k].platform == "x"
    }
    innocent = {persona[k].handle for k in [*scenario.truth.organic, *scenario.truth.late_sharers]}
    groups = [f for f in findings if f["analysis"] == "coordination" and f["flagged"]]
    # The amplifiers push the source's series of posts within minutes: one flagged group, all of
    # them and nobody else (the source posts first; it is what they amplified, not a member).
    assert len(groups) == 1
    flagged = {a["handle"] for a in groups[0]["accounts"]}
    assert flagged == amplifiers
    assert not flagged & innocent
    source = persona[scenario.truth.source].handle
    # The finding says whose posts the group amplified: the source's, and no one else's.
    assert [a["handle"] for a in groups[0]["details"]["amplified"]] == [source]
    assert f"posts they reposted or quoted together are by @{source}" in groups[0]["explanation"]
    first = [line for line in result.highlights if line.startswith("coordinated group #1")]
    assert first and first[0].endswith(f"amplifying posts of @{source}")
    cited = {a["handle"] for f in findings if f.get("flagged", True) for a in f["accounts"]}
    assert not cited & innocent, "an organic account appears in a finding"
    mismatch = [f for f in findings if f["kind"] == "timezone_mismatch"]
    assert [a["handle"] for f in mismatch for a in f["accounts"]] == [source]
    assert "UTC+3" in mismatch[0]["explanation"]
