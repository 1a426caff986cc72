"""The finding draft's typed parts: kinds stored as the same strings, evidence roles keyed by a
typed reference, and the one encoding of a group's edges."""

from __future__ import annotations

from osint.analyzers.findings import (
    EvidenceKind,
    EvidenceRef,
    FindingDraft,
    FindingKind,
    GroupEdge,
    edges_from_details,
    edges_to_details,
)
from osint.storage import kinds


def test_finding_kinds_are_the_strings_stored_before() -> None:
    assert kinds.FindingKind is FindingKind
    assert FindingKind.COORDINATED_GROUP == "coordinated_group"
    assert FindingKind("timezone_mismatch") is FindingKind.TIMEZONE_MISMATCH
    assert all(member.value == member.name.lower() for member in FindingKind)


def test_evidence_lists_each_cited_item_once_with_its_role() -> None:
    draft = FindingDraft(
        FindingKind.IMAGE_REUSE,
        0.5,
        "t",
        "e",
        accounts=(3, 4, 3),
        posts=(7,),
        media=(9,),
        roles={EvidenceRef.account(4): "first_poster", EvidenceRef.media(9): "earliest"},
    )
    assert [(str(ref.kind), ref.id, role) for ref, role in draft.evidence()] == [
        ("account", 3, None),
        ("account", 4, "first_poster"),
        ("post", 7, None),
        ("media", 9, "earliest"),
    ]
    assert EvidenceRef.post(7) == EvidenceRef(EvidenceKind.POST, 7) != EvidenceRef.media(7)


def test_edges_read_back_as_written_and_old_shapes_still_read() -> None:
    written = edges_to_details([GroupEdge(1, 2, 3), GroupEdge(2, 5)])
    assert written == [[1, 2, 3], [2, 5, 1.0]]
    assert edges_from_details(written) == [GroupEdge(1, 2, 3.0), GroupEdge(2, 5, 1.0)]
    old = [[1, 2], {"source": 3, "target": "4", "weight": 2}, {"a": 5, "b": 6}, ["x", 1], [7]]
    assert edges_from_details(old) == [GroupEdge(1, 2), GroupEdge(3, 4, 2.0), GroupEdge(5, 6)]
    assert edges_from_details({"not": "a list"}) == []
