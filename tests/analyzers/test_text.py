"""Content keys: URL and text normalisation, near-identical text clusters."""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable

import pytest

from osint.analyzers.text import (
    _PLAIN_URL_RE,
    MinHashConfig,
    TextInputError,
    _normalize_url,
    near_duplicate_clusters,
    normalize_hashtag,
    normalize_text,
    normalize_url,
    word_shingles,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.Example.com/news/story/?utm_source=tw&utm_medium=social",
        "HTTP://example.COM/news/story?fbclid=IwAR0abc",
        "https://example.com:443/news/story/#comments",
        "example.com/news/story?gclid=123&utm_campaign=x",
    ],
)
def test_shares_of_one_link_get_one_key(url: str) -> None:
    assert normalize_url(url) == "https://example.com/news/story"


def test_meaningful_query_parameters_are_kept_and_sorted() -> None:
    assert normalize_url("https://example.com/watch?v=abc&t=10&utm_source=x") == (
        "https://example.com/watch?t=10&v=abc"
    )
    assert normalize_url("https://example.com/a?b=2&a=1") == normalize_url(
        "https://example.com/a?a=1&b=2"
    )
    assert normalize_url("https://example.com:8080/a") == "https://example.com:8080/a"
    assert normalize_url("http://example.com/a", unify_scheme=False) == "http://example.com/a"
    assert normalize_url("https://example.com/a") != normalize_url("https://example.com/b")


def test_unusable_urls_raise_clear_errors() -> None:
    with pytest.raises(TextInputError, match="empty URL"):
        normalize_url("   ")
    with pytest.raises(TextInputError, match="no host"):
        normalize_url("https:///path-only")


def test_text_normalisation_strips_case_space_mentions_links() -> None:
    a = normalize_text("RT @bot_12: Vote   NOW for Dia Diarra! https://t.co/AbC123 @friend")
    b = normalize_text("vote now for DIA DIARRA!\n\nwww.example.com/x")
    assert a == b == "vote now for dia diarra!"
    assert normalize_text("@someone https://t.co/x") == ""
    assert normalize_hashtag("#Vote2022") == normalize_hashtag("vote2022") == "vote2022"


def test_word_shingles() -> None:
    assert word_shingles("one two three four", 3) == {"one two three", "two three four"}
    assert word_shingles("short text", 3) == {"short text"}
    assert word_shingles("", 3) == set()


def test_near_identical_texts_cluster_and_different_texts_do_not() -> None:
    base = (
        "the people of mali stand with their army against foreign interference in our affairs today"
    )
    texts = [
        base,
        base.replace("today", "now"),  # one word changed: Jaccard of 3-shingles 13/15
        "RT @x: " + base.upper() + " https://t.co/abc",  # same after normalisation
        "weather in bamako is hot and dry this week, stay hydrated and look after the elderly",
        "football: the eagles won the match against the lions two goals to one last night",
        "",
    ]
    labels = near_duplicate_clusters(texts).tolist()
    assert labels[0] == labels[1] == labels[2] == 0
    assert len({labels[0], labels[3], labels[4]}) == 3
    assert labels[5] == -1


def test_cluster_threshold_is_respected() -> None:
    words = [f"w{i}" for i in range(20)]
    original = " ".join(words)
    half_changed = " ".join(words[:10] + [f"x{i}" for i in range(10)])  # Jaccard ~0.3
    labels = near_duplicate_clusters([original, half_changed], MinHashConfig(threshold=0.8))
    assert labels[0] != labels[1]
    loose = near_duplicate_clusters([original, half_changed], MinHashConfig(threshold=0.2))
    assert loose[0] == loose[1]
    with pytest.raises(TextInputError):
        MinHashConfig(threshold=1.5)


TRICKY_URLS = [
    "https://news21.example.com/a/1103",
    "http://news21.example.com/a/1103",
    "HTTPS://example.com/a",
    "http://Example.com/a",
    "https://www.example.com/a/",
    "https://www/a",
    "https://wwwexample.com/a",
    "https://example.com//a//b/",
    "https://example.com/a/",
    "https://example.com:443/a",
    "https://example.com:8080/a",
    "https://user:pw@example.com/a",
    "https://example.com/a?utm_source=x&b=2&a=1",
    "https://example.com/a?",
    "https://example.com/a#frag",
    "https://example.com#frag",
    "https://example.com.",
    "https://example..com/a",
    "https://example.com",
    "https://-.com",
    "https://[::1]/a",
    "https://[::1]:8443/a",
    "https://127.0.0.1/a",
    "https://example.com/%7Ea%2F",
    "https://ex-ample.co.uk/a;b=c/d:e@f",
    "https://example.com/a b",
    " https://example.com/a",
    "https://example.com/a\t",
    "https://exa\nmple.com/a",
    "\x00https://example.com/a",
    "https://exämple.com/a",
    "https://example.com/é",
    "example.com/a",
    "//example.com/a",
    "ftp://example.com/a",
    "https:///a",
]


@pytest.mark.parametrize("url", TRICKY_URLS)
@pytest.mark.parametrize("unify", [True, False])
def test_plain_url_shortcut_gives_what_the_full_normalisation_gives(url: str, unify: bool) -> None:
    def outcome(normalise: Callable[[], str]) -> str:
        try:
            return normalise()
        except TextInputError as exc:
            return f"error: {exc}"

    assert outcome(lambda: normalize_url(url, unify_scheme=unify)) == outcome(
        lambda: _normalize_url(url, unify)
    )


def test_plain_url_shortcut_is_taken_for_clean_links_only() -> None:
    assert _PLAIN_URL_RE.fullmatch("https://news21.example.com/a/1103")
    for url in ("https://www.example.com/a", "https://Example.com/a", "https://example.com/a/"):
        assert not _PLAIN_URL_RE.fullmatch(url)


def _reference_normalize_text(text: str) -> str:
    """normalize_text as first written: every regex over every text."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    without_links = re.sub(r"(?:https?://|www\.)\S+", " ", folded, flags=re.IGNORECASE)
    without_rt = re.sub(r"^\s*rt\s*:?\s*", "", without_links, flags=re.IGNORECASE)
    without_mentions = re.sub(r"(?<![\w@])@[\w.]+", " ", without_rt)
    collapsed = re.sub(r"\s+", " ", without_mentions).strip(" :-–—|")
    return collapsed if re.search(r"\w+", collapsed) else ""


def test_text_normalisation_fast_paths_give_the_regexes_results() -> None:
    odd = [
        "RT @bot_12: Vote   NOW https://t.co/x",
        "  : HTTPS://EXAMPLE.COM/A  — mali | ",
        "ＨＴＴＰ://ｅｘａｍｐｌｅ.com/x fullwidth link and words",
        "WWW.Example.com/x then text",
        "\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000 odd  spaces\tand\nlines \u200b",
        "ſtraße @ſomeone hello@there.com mail",
        "rt: rt rt RT",
        "",
        "   ",
        "-–—|",
        "x" * 20 + "\u0130stanbul K\u212a",
    ]
    for text in odd:
        assert normalize_text(text) == _reference_normalize_text(text), text


def test_whitespace_and_case_folding_assumptions_hold_for_every_code_point() -> None:
    # normalize_text collapses whitespace with split() and skips the link regex when neither
    # "http" nor "www." is in the case-folded text: both rely on these facts of Unicode and re.
    letters = re.compile(r"[htpsw.:/]", re.IGNORECASE)
    for point in range(0x110000):
        if 0xD800 <= point <= 0xDFFF:
            continue
        char = chr(point)
        assert bool(re.fullmatch(r"\s", char)) == char.isspace(), hex(point)
        folded = char.casefold()
        assert folded.casefold() == folded, hex(point)
        for piece in folded:
            if letters.fullmatch(piece):
                assert piece in "htpsw.:/", hex(point)


def test_text_normalisation_matches_the_regexes_on_random_texts() -> None:
    alphabet = "@@@a_.1 é\t-#:|—\u0660xHTPSWhtpsw/.:\u017f\u212a\u0130RrTt\n\xa0"
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        for candidate in (text, "http://" + text, "www." + text, "RT @" + text):
            assert normalize_text(candidate) == _reference_normalize_text(candidate), candidate
