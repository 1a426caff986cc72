"""The list-literal reader of the IO archive's hashtags, urls and user_mentions cells."""

from __future__ import annotations

import pytest

from osint.collectors.importers.literals import MAX_CHARS, MAX_ITEMS, LiteralError, parse_list


@pytest.mark.parametrize(
    "cell,items",
    [
        ("", []),
        ("[]", []),
        (" [ ] ", []),
        ("['Mali', 'Wagner']", ["Mali", "Wagner"]),
        ('["l\'armée", "x"]', ["l'armée", "x"]),
        (
            "['it\\'s', 'a\\\\b', 'caf\\xe9', '\\u00e9t\\u00e9', 'tab\\there']",
            ["it's", "a\\b", "café", "été", "tab\there"],
        ),
        ("[2882331822, 1541520588]", ["2882331822", "1541520588"]),
        ("[tcot, p2, two words]", ["tcot", "p2", "two words"]),
        ("[u'tag']", ["tag"]),
        ("['a',]", ["a"]),
        ("['https://a.example/x?y=1,2']", ["https://a.example/x?y=1,2"]),
    ],
)
def test_lists(cell: str, items: list[str]) -> None:
    assert parse_list(cell) == items


@pytest.mark.parametrize(
    "cell,message",
    [
        ("Mali", "not a list literal"),
        ("{'a': 1}", "not a list literal"),
        ("[[1, 2]]", "not a flat list"),
        ("['a' 'b']", "not a flat list"),
        ("['a', ", "not a list literal"),
        ("['unclosed]", "not a flat list"),
        ("['a'] + ['b']", "text after the closing bracket"),
        ("['\\U00110000']", "an escape of no character"),
        ("[__import__('os').system('id')]", "not a flat list"),
    ],
)
def test_not_lists(cell: str, message: str) -> None:
    with pytest.raises(LiteralError, match=message):
        parse_list(cell)


def test_bounds() -> None:
    with pytest.raises(LiteralError, match="characters"):
        parse_list("['" + "x" * MAX_CHARS + "']")
    with pytest.raises(LiteralError, match="items"):
        parse_list("[" + ", ".join(["a"] * (MAX_ITEMS + 1)) + "]")
    assert len(parse_list("[" + ", ".join(["a"] * MAX_ITEMS) + "]")) == MAX_ITEMS
