"""`osint demo` analyses the collected demo world and finds its planted amplifier network."""

from __future__ import annotations

import io
import json
from pathlib import Path

from osint.analysis.export import export_findings
from osint.analysis.pipeline import analyze_for_demo
from osint.config import Settings
from osint.demo.run import CASE, run_demo
from osint.demo.scenario import build_scenario
from osint.storage.db import Store


def test_demo_analysis_finds_the_amplifiers_not_the_late_sharers(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    scenario = build_scenario()
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
    groups = [f for f in findings if f["analysis"] == "coordination"]
    # The demo's amplifiers push two posts: past chance, but not past the bar that names
    # accounts (p ~ 0.03 for the group). They lead the candidates, labelled not flagged.
    assert groups and all(f["flagged"] is False for f in groups)
    strongest = {a["handle"] for a in groups[0]["accounts"]}
    assert amplifiers <= strongest and persona[scenario.truth.source].handle in strongest
    assert not strongest & innocent
    assert any("strongest candidate (not flagged)" in line for line in result.highlights)
    cited = {a["handle"] for f in findings if f.get("flagged", True) for a in f["accounts"]}
    assert not cited & innocent, "an organic account appears in a finding"
    source = persona[scenario.truth.source].handle
    mismatch = [f for f in findings if f["kind"] == "timezone_mismatch"]
    assert [a["handle"] for f in mismatch for a in f["accounts"]] == [source]
    assert "UTC+3" in mismatch[0]["explanation"]
