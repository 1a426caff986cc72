"""CooRTweet's published results through the whole tool: import, analyze, export (both backends)."""

from __future__ import annotations

import csv
import io
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
        ).stdout
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


def test_bad_parameters_and_empty_cases_are_one_line_errors(run_cli: CliRun) -> None:
    run_cli("case", "new", "empty")
    result = run_cli("analyze", "coordination", "--case", "empty", expect=2)
    assert "no shares to analyse" in result.stderr and "osint import shares" in result.stderr
    negative = run_cli("analyze", "coordination", "--case", "empty", "--window", "-5", expect=2)
    assert "time window must be a number of seconds >= 0" in negative.stderr
    quantile = run_cli("analyze", "coordination", "--case", "empty", "--edge-weight", "2", expect=2)
    assert "edge_weight is a quantile" in quantile.stderr
    missing = run_cli("analyze", "coordination", "--case", "nope", expect=2)
    assert "no case named 'nope'" in missing.stderr
    assert "Traceback" not in result.stderr + negative.stderr + quantile.stderr + missing.stderr
