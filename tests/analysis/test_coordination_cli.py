"""CooRTweet's published results through the whole tool: import, analyze, export (both backends)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import networkx as nx

from tests.conftest import CliRun


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_russian_coord_tweets_match_coortweet(
    run_cli: CliRun, shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "russian_coord_tweets.csv"
    run_cli("case", "new", "ru")
    run_cli("import", "shares", str(source), "--case", "ru", "--modality", "repost")

    result = run_cli(
        "analyze", "coordination", "--case", "ru", "--window", "60", "--min-participation", "2"
    )
    assert "3,791 co-share pairs, 2,110 accounts and 3,721 edges (60 above" in result.stdout

    pairs = _rows(
        run_cli(
            "export", "coordination", "--case", "ru", "--format", "csv", "--window", "60"
        ).stdout  # --window checks the run used 60 s
    )
    assert len(pairs) == 3791
    with source.open(newline="") as handle:
        imported = {
            (r["object_id"], r["account_id"], r["content_id"]) for r in csv.DictReader(handle)
        }
    for pair in pairs[:200]:  # ids are the dataset's own, older share first
        assert (pair["object_id"], pair["account_id"], pair["content_id"]) in imported
        assert (pair["object_id"], pair["account_id_y"], pair["content_id_y"]) in imported
        assert 0 <= int(pair["time_delta"]) <= 60 and pair["modality"] == "repost"

    edges = _rows(
        run_cli("export", "network", "--case", "ru", "--format", "csv", "--window", "60").stdout
    )
    assert len(edges) == 3721
    assert len({e["account_id"] for e in edges} | {e["account_id_y"] for e in edges}) == 2110
    assert Counter(int(e["weight"]) for e in edges) == {1: 3661, 2: 51, 3: 8, 4: 1}

    graphml = tmp_path / "ru.graphml"
    run_cli(
        "export",
        "network",
        "--case",
        "ru",
        "--format",
        "graphml",
        "--window",
        "60",
        "--output",
        str(graphml),
    )
    graph = nx.read_graphml(graphml)
    assert (graph.number_of_nodes(), graph.number_of_edges()) == (2110, 3721)
    strong = graph.edge_subgraph(
        [(a, b) for a, b, d in graph.edges(data=True) if d["weight_threshold"] == 1]
    )
    assert (strong.number_of_nodes(), strong.number_of_edges()) == (94, 60)
    gexf = tmp_path / "ru.gexf"
    run_cli(
        "export", "network", "--case", "ru", "--format", "gexf", "--window", "60", "-o", str(gexf)
    )
    assert nx.read_gexf(gexf).number_of_edges() == 3721

    narrow = run_cli(
        "analyze", "coordination", "--case", "ru", "--window", "10", "--min-participation", "5"
    )
    assert "22 co-share pairs, 23 accounts and 20 edges" in narrow.stdout
    loops = run_cli(
        "analyze",
        "coordination",
        "--case",
        "ru",
        "--window",
        "10",
        "--min-participation",
        "5",
        "--keep-loops",
    )
    assert "60 co-share pairs" in loops.stdout


def test_bad_parameters_are_one_line_errors(run_cli: CliRun) -> None:
    run_cli("case", "new", "empty")
    for flags, words in (
        (("--window", "-5"), "time window must be a number of seconds >= 0"),
        (("--min-participation", "0"), "min_participation must be a whole number >= 1"),
        (("--edge-weight", "2"), "edge_weight is a quantile"),
        (("--edge-weight", "-0.1"), "edge_weight is a quantile"),
    ):
        result = run_cli("analyze", "coordination", "--case", "empty", *flags, expect=2)
        assert words in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    missing = run_cli("analyze", "coordination", "--case", "nope", expect=2)
    assert "no case named 'nope'" in missing.stderr


def test_empty_case_one_account_and_no_shares_give_a_message_and_no_finding(
    run_cli: CliRun, tmp_path: Path
) -> None:
    run_cli("case", "new", "empty")
    result = run_cli("analyze", "coordination", "--case", "empty")
    assert "no shares to analyse" in result.stdout and "no finding" in result.stdout
    assert run_cli("export", "findings", "--case", "empty").stdout == ""
    pairs = run_cli("export", "coordination", "--case", "empty").stdout
    assert pairs.strip().splitlines() == [
        "object_id,account_id,account_id_y,content_id,content_id_y,time_delta,modality"
    ]
    lone = tmp_path / "lone.csv"
    lone.write_text(
        "object_id,account_id,content_id,timestamp_share\n"
        + "".join(f"o{i % 3},a1,c{i},{1650000000 + i}\n" for i in range(12)),
        encoding="utf-8",
    )
    run_cli("case", "new", "lone")
    run_cli("import", "shares", str(lone), "--case", "lone", "--modality", "repost")
    alone = run_cli("analyze", "coordination", "--case", "lone")
    assert "0 co-share pairs" in alone.stdout and "0 coordinated group(s)" in alone.stdout
    assert run_cli("export", "findings", "--case", "lone").stdout == ""
    never = run_cli("export", "network", "--case", "empty", "--format", "csv")
    assert never.exit_code == 0


def test_exports_read_the_stored_run_not_the_defaults(
    run_cli: CliRun, shared_data: Path, monkeypatch
) -> None:
    """Analyse with CooRTweet's 60 s, change the defaults, export: the run's 3,791 pairs."""
    from osint.analysis import export as analysis_export
    from osint.analysis.coordination_pass import CoordinationOptions

    source = shared_data / "russian_coord_tweets.csv"
    run_cli("case", "new", "ru")
    run_cli("import", "shares", str(source), "--case", "ru", "--modality", "repost")
    first = run_cli(
        "analyze", "coordination", "--case", "ru", "--window", "60", "--min-participation", "2"
    )
    assert "(run 1)" in first.stdout
    defaults = CoordinationOptions.__init__.__defaults__
    monkeypatch.setattr(CoordinationOptions.__init__, "__defaults__", (300, 1, 0.9, *defaults[3:]))
    assert CoordinationOptions().window == 300

    def recompute(*args, **kwargs):
        raise AssertionError("an export recomputed the analysis")

    monkeypatch.setattr(analysis_export, "compute_coordination", recompute)
    pairs = _rows(run_cli("export", "coordination", "--case", "ru").stdout)
    assert len(pairs) == 3791 and max(int(p["time_delta"]) for p in pairs) <= 60
    edges = _rows(run_cli("export", "network", "--case", "ru", "--format", "csv").stdout)
    assert len(edges) == 3721
    assert sum(int(e["weight_threshold"]) for e in edges) == 60
    wrong = run_cli("export", "coordination", "--case", "ru", "--window", "10", expect=2)
    assert "run 1 used window 60.0, not 10.0" in wrong.stderr
    second = run_cli("analyze", "coordination", "--case", "ru", "--window", "10",
                     "--min-participation", "5")  # fmt: skip
    assert "(run 2)" in second.stdout
    assert len(_rows(run_cli("export", "coordination", "--case", "ru").stdout)) == 22
    older = _rows(run_cli("export", "coordination", "--case", "ru", "--run", "1").stdout)
    assert len(older) == 3791
    missing = run_cli("export", "coordination", "--case", "ru", "--run", "9", expect=2)
    assert "no coordination run 9" in missing.stderr


def test_findings_of_a_run_and_the_candidates_below_the_bar(
    run_cli: CliRun, shared_data: Path
) -> None:
    run_cli("case", "new", "ru")
    source = shared_data / "russian_coord_tweets.csv"
    run_cli("import", "shares", str(source), "--case", "ru", "--modality", "repost")
    first = run_cli("analyze", "coordination", "--case", "ru", "--all")  # 300 s, the default
    assert "Coordinated groups and candidates not flagged" in first.stdout

    def records(*flags: str) -> list[dict]:
        text = run_cli("export", "findings", "--case", "ru", *flags).stdout
        return [json.loads(line) for line in text.splitlines()]

    flagged = records()
    assert flagged and all(r["kind"] == "coordinated_group" and r["flagged"] for r in flagged)
    for record in flagged:
        details = record["details"]
        assert details["run"] == 1 and details["p_value"] <= details["threshold"]
        assert "chance would give about" in record["explanation"]
        assert all(m["p_value"] <= details["threshold"] for m in details["members"])
        assert len(record["accounts"]) == details["size"] == len(details["members"])
    everything = records("--all")
    below = [r for r in everything if not r["flagged"]]
    assert below and all(r["kind"] == "coordinated_group_candidate" for r in below)
    assert all(r["title"].startswith("Candidate group (not flagged)") for r in below)
    assert len(everything) == len(flagged) + len(below)

    run_cli("analyze", "coordination", "--case", "ru", "--window", "10", "--min-participation", "5")
    assert records() == []  # run 2 flagged nobody and replaced run 1's findings
    again = records("--run", "1")
    assert [r["details"]["members"] for r in again] == [r["details"]["members"] for r in flagged]


def test_analyze_checks_its_parameters_before_any_analysis(run_cli: CliRun) -> None:
    run_cli("case", "new", "empty")
    result = run_cli("analyze", "--case", "empty", "--min-participation", "0", expect=2)
    assert result.stderr.strip().splitlines() == [
        "error: min_participation must be a whole number >= 1, got 0 (default 2)"
    ]
    assert "images of case" not in result.stdout
