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
    assert any(line.startswith("coordinated group #1") for line in result.highlights)

    out = io.StringIO()
    export_findings(store, CASE, out)
    findings = [json.loads(line) for line in out.getvalue().splitlines()]
    flagged = {
        a["handle"] for f in findings if f["kind"] == "coordinated_group" for a in f["accounts"]
    }
    persona = scenario.personas
    amplifiers = {
        persona[k].handle for k in scenario.truth.amplifiers if persona[k].platform == "x"
    }
    innocent = {persona[k].handle for k in [*scenario.truth.organic, *scenario.truth.late_sharers]}
    assert amplifiers <= flagged
    assert persona[scenario.truth.source].handle in flagged
    cited = {a["handle"] for f in findings for a in f["accounts"]}
    assert not cited & innocent, "an organic account appears in a finding"
    source = persona[scenario.truth.source].handle
    mismatch = [f for f in findings if f["kind"] == "timezone_mismatch"]
    assert [a["handle"] for f in mismatch for a in f["accounts"]] == [source]
    assert "UTC+3" in mismatch[0]["explanation"]
