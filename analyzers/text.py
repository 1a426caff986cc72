"""Content keys for co-sharing: normalised URLs, normalised text, near-identical text clusters.

Two posts share an "object" when their keys are equal. These functions decide what counts as
equal: ``https://www.Example.com/a/?utm_source=x`` and ``http://example.com/a`` are one link;
``RT @bot: Vote NOW  https://t.co/x`` and ``vote now`` are one text; texts whose word shingles
overlap with Jaccard >= 0.8 fall into one near-identical cluster (MinHash + LSH, on numpy).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

# Query parameters that identify the click, not the page. Prefixes end with "_".
TRACKING_PARAM_PREFIXES = ("utm_", "mtm_", "pk_", "hsa_", "__hs", "_hs")
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "igsh",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_ga",
        "_gl",
        "ref_src",
        "ref_url",
        "cmpid",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "wickedid",
        "rb_clickid",
        "s_cid",
        "si",
        "spm",
        "share_id",
        "feature",
    }
)
DEFAULT_PORTS = {"http": 80, "https": 443}

# An http(s) URL with a lower-case host (not www.), no user, port, query or fragment, no empty
# path segment and no trailing slash; ASCII only. Most shared links look like this, and
# normalize_url returns them unchanged but for the scheme, without parsing them.
_PLAIN_URL_RE = re.compile(
    r"(https?)://((?!www\.)[a-z0-9-]+(?:\.[a-z0-9-]+)*)((?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*)"
)
# Links and @mentions in a case-folded text. No IGNORECASE: a case-folded text holds no other
# character that a case-insensitive "http" or "www." would take (tests check every code point),
# and the regex scans three times faster without. The mention starts with its "@" (then looks
# behind it for a word character or another "@"), so the scan jumps from "@" to "@".
_URL_RE = re.compile(r"(?:https?://|www\.)\S+")
_MENTION_RE = re.compile(r"@(?<![\w@]@)[\w.]+")
_RETWEET_PREFIX_RE = re.compile(r"^\s*rt\s*:?\s*", re.IGNORECASE)
_WORD_RE = re.compile(r"\w+", re.UNICODE)


class TextInputError(ValueError):
    """Input to a text normaliser that cannot be turned into a content key."""


def _is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PARAM_PREFIXES)


def normalize_url(url: str, *, unify_scheme: bool = True) -> str:
    """Return the canonical form of ``url``, the key two shares of one link have in common.

    Lower-cases scheme and host, drops ``www.``, default ports, the fragment, tracking
    parameters (``utm_*``, ``fbclid``, ``gclid`` ...) and a trailing slash; sorts the
    remaining query parameters. ``http`` and ``https`` are one scheme unless
    ``unify_scheme`` is False. A URL without a scheme (``example.com/a``) is read as http.
    """
    plain = _PLAIN_URL_RE.fullmatch(url)
    if plain is not None:  # already canonical but for the scheme: the general steps change nothing
        scheme = "https" if unify_scheme else plain.group(1)
        return f"{scheme}://{plain.group(2)}{plain.group(3)}"
    return _normalize_url(url, unify_scheme)


def _normalize_url(url: str, unify_scheme: bool) -> str:
    text = url.strip()
    if not text:
        raise TextInputError(
            "empty URL: give the link as it was shared, e.g. https://example.com/a"
        )
    if "://" not in text:
        text = "http://" + text.lstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise TextInputError(f"cannot parse URL {url!r}: {error}") from error
    scheme = parts.scheme.lower()
    if unify_scheme and scheme == "http":
        scheme = "https"
    host = (parts.hostname or "").rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    if not host:
        raise TextInputError(
            f"URL {url!r} has no host: expected something like https://example.com/a"
        )
    if port is not None and port != DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    query_pairs = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking_param(name)
    ]
    query = urlencode(sorted(query_pairs))
    return urlunsplit((scheme, host, path, query, ""))


def normalize_hashtag(tag: str) -> str:
    """``#Vote2022`` and ``vote2022`` are one hashtag: strip ``#``, NFKC, case-fold."""
    return unicodedata.normalize("NFKC", tag).strip().lstrip("#").casefold()


def normalize_text(text: str) -> str:
    """The text two copy-pasted posts have in common.

    NFKC, case-folded, a leading ``RT``, URLs and @mentions removed, whitespace collapsed.
    Returns ``""`` for a post with no words of its own (the caller should not use it as a key).
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    # The substring tests skip a regex scan that could not match; split() and join collapse
    # whitespace as a \s+ regex would (tests check every code point), and faster.
    if "http" in folded or "www." in folded:
        folded = _URL_RE.sub(" ", folded)
    without_rt = _RETWEET_PREFIX_RE.sub("", folded)
    without_mentions = _MENTION_RE.sub(" ", without_rt) if "@" in without_rt else without_rt
    collapsed = " ".join(without_mentions.split()).strip(" :-–—|")
    return collapsed if _WORD_RE.search(collapsed) else ""


def word_shingles(text: str, size: int = 3) -> set[str]:
    """Overlapping runs of ``size`` words of a normalised text; short texts give one shingle."""
    words = _WORD_RE.findall(text)
    if not words:
        return set()
    if len(words) <= size:
        return {" ".join(words)}
    return {" ".join(words[start : start + size]) for start in range(len(words) - size + 1)}


def _shingle_hash(shingle: str) -> int:
    # Stable across processes (Python's hash() is salted per run).
    return int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=4).digest(), "little")


@dataclass(frozen=True)
class MinHashConfig:
    """MinHash/LSH settings. The LSH bands are chosen from ``threshold``: texts at the
    threshold become candidates with >= 99% probability (candidates are then confirmed
    with the exact Jaccard, so extra candidates cost time, never precision)."""

    threshold: float = 0.8
    shingle_size: int = 3
    num_perm: int = 120
    seed: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise TextInputError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.num_perm < 1 or self.shingle_size < 1:
            raise TextInputError("num_perm and shingle_size must be positive integers")

    @property
    def bands(self) -> int:
        return self.num_perm // self.rows

    @property
    def rows(self) -> int:
        """Most rows per band (fewest false candidates) that still catch the threshold."""
        best = 1
        for rows in range(1, self.num_perm + 1):
            bands = self.num_perm // rows
            if 1.0 - (1.0 - self.threshold**rows) ** bands >= 0.99:
                best = rows
        return best


_MERSENNE_PRIME = np.uint64((1 << 61) - 1)


def minhash_signatures(shingle_sets: Sequence[set[str]], config: MinHashConfig) -> np.ndarray:
    """One row of ``bands * rows`` MinHash values per shingle set (empty sets: all max)."""
    num_perm = config.bands * config.rows
    rng = np.random.default_rng(config.seed)
    mult = rng.integers(1, 1 << 31, size=num_perm, dtype=np.uint64)
    add = rng.integers(0, 1 << 31, size=num_perm, dtype=np.uint64)
    lengths = np.array([len(shingles) for shingles in shingle_sets], dtype=np.int64)
    signatures = np.full((len(shingle_sets), num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
    if lengths.sum() == 0:
        return signatures
    hashes = np.fromiter(
        (_shingle_hash(s) for shingles in shingle_sets for s in shingles),
        dtype=np.uint64,
        count=int(lengths.sum()),
    )
    non_empty = np.flatnonzero(lengths)
    starts = (np.cumsum(lengths) - lengths)[non_empty]
    for perm in range(num_perm):
        # hashes < 2**32 and mult < 2**31: the product fits in 64 bits before the modulo.
        permuted = (hashes * mult[perm] + add[perm]) % _MERSENNE_PRIME
        signatures[non_empty, perm] = np.minimum.reduceat(permuted, starts)
    return signatures


def _lsh_candidate_pairs(signatures: np.ndarray, config: MinHashConfig) -> np.ndarray:
    """Pairs (i, j) of documents that share at least one LSH band bucket."""
    pairs: list[np.ndarray] = []
    for band in range(config.bands):
        block = signatures[:, band * config.rows : (band + 1) * config.rows]
        band_keys = np.ascontiguousarray(block).view(np.dtype((np.void, block.shape[1] * 8)))
        order = np.argsort(band_keys.ravel(), kind="stable")
        sorted_keys = band_keys.ravel()[order]
        same_as_previous = sorted_keys[1:] == sorted_keys[:-1]
        # Link each member to its predecessor and to the bucket's first member: union-find
        # then joins the bucket without the quadratic all-pairs of a large bucket.
        links = np.flatnonzero(same_as_previous) + 1
        bucket_start = np.maximum.accumulate(
            np.where(same_as_previous, 0, np.arange(1, len(order)))
        )
        heads = bucket_start[links - 1]
        pairs.append(np.stack([order[links - 1], order[links]], axis=1))
        pairs.append(np.stack([order[heads], order[links]], axis=1))
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(pairs), axis=0)


def _union_find_labels(count: int, pairs: np.ndarray) -> np.ndarray:
    parent = list(range(count))

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for left, right in pairs.tolist():
        root_left, root_right = find(left), find(right)
        if root_left != root_right:
            parent[max(root_left, root_right)] = min(root_left, root_right)
    return np.array([find(node) for node in range(count)], dtype=np.int64)


def near_duplicate_clusters(
    texts: Sequence[str], config: MinHashConfig | None = None
) -> np.ndarray:
    """Cluster label per text: texts whose shingle Jaccard is >= ``config.threshold`` share one.

    Texts are normalised first (``normalize_text``) and identical normalised texts are one
    document. Candidates come from MinHash LSH bands; each candidate pair is confirmed with the
    exact Jaccard of the shingle sets, so false positives are removed (false negatives are
    LSH's: under 1% at the threshold, by construction of the bands). The label of a cluster is the index of its
    first text; texts with no words get label -1.
    """
    settings = config or MinHashConfig()
    normalised = [normalize_text(text) for text in texts]
    unique_texts = sorted(set(normalised) - {""})
    if not unique_texts:
        return np.full(len(texts), -1, dtype=np.int64)
    shingle_sets = [word_shingles(text, settings.shingle_size) for text in unique_texts]
    signatures = minhash_signatures(shingle_sets, settings)
    candidates = _lsh_candidate_pairs(signatures, settings)
    confirmed = [
        (left, right)
        for left, right in candidates.tolist()
        if _jaccard(shingle_sets[left], shingle_sets[right]) >= settings.threshold
    ]
    roots = _union_find_labels(
        len(unique_texts), np.array(confirmed, dtype=np.int64).reshape(-1, 2)
    )
    index_of_text = {text: position for position, text in enumerate(unique_texts)}
    first_text_of_root: dict[int, int] = {}
    labels = np.full(len(texts), -1, dtype=np.int64)
    for position, text in enumerate(normalised):
        if text:
            root = int(roots[index_of_text[text]])
            labels[position] = first_text_of_root.setdefault(root, position)
    return labels


def _jaccard(left: set[str], right: set[str]) -> float:
    union = len(left | right)
    return len(left & right) / union if union else 0.0
