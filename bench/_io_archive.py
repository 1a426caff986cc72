"""A generated release of X's information-operations archive, shaped like the real ones.

The columns and cell formats of ``<campaign>_<MMYYYY>_tweets_csv_hashed.csv``: hashed userids
(base64 of a SHA-256), tweet ids that are snowflakes of the tweet's time, ``tweet_time`` to the
minute, list literals in ``hashtags``/``urls``/``user_mentions``, ``absent`` coordinates, counts
written as floats. A network of a few thousand accounts that mostly retweets a pool of
originals, posts copied texts, pushes a few dozen sites and hashtags: what the releases hold.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import random
from datetime import UTC, datetime
from pathlib import Path

from osint.collectors.importers.x_io import TWEETS_COLUMNS, X_EPOCH_MS

CLIENTS = ["Twitter Web Client", "Twitter for Android", "dlvr.it", "TweetDeck", "IFTTT"]
WORDS = [
    "sahel",
    "bamako",
    "wagner",
    "barkhane",
    "gossi",
    "armée",
    "vérité",
    "preuve",
    "mensonge",
    "russie",
    "mali",
]


def hashed(value: str) -> str:
    return base64.b64encode(hashlib.sha256(value.encode()).digest()).decode()


def snowflake(ms: int, sequence: int) -> int:
    return ((ms - X_EPOCH_MS) << 22) | (sequence & 0x3FFFFF)


def write_io_tweets_csv(path: Path, posts: int, seed: int = 20220421) -> None:
    rng = random.Random(seed)
    accounts = [hashed(f"account-{i}") for i in range(max(posts // 400, 10))]
    profiles = {
        a: (rng.choice(["Bamako, Mali", "Paris", "", "Moscow"]), rng.randint(0, 5000))
        for a in accounts
    }
    phrases = [" ".join(rng.choices(WORDS, k=10)) for _ in range(max(posts // 100, 10))]
    originals = [str(snowflake(1_560_000_000_000 + i * 7_000, i)) for i in range(5_000)]
    ms = 1_560_000_000_000
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(TWEETS_COLUMNS)
        for i in range(posts):
            ms += rng.randint(0, 9_000)
            author = accounts[int(len(accounts) * rng.random() ** 2)]
            out.writerow(_row(rng, i, ms, author, profiles[author], phrases, originals))


def _row(
    rng: random.Random,
    i: int,
    ms: int,
    author: str,
    profile: tuple[str, int],
    phrases: list[str],
    originals: list[str],
) -> list[object]:
    retweet = rng.random() < 0.4
    text = rng.choice(phrases) if rng.random() < 0.5 else " ".join(rng.choices(WORDS, k=12))
    tags = [rng.choice(WORDS) for _ in range(rng.randint(1, 2))] if rng.random() < 0.3 else []
    urls = [f"https://news{rng.randint(0, 40)}.example.com/a/{rng.randint(0, 800)}"] * (
        rng.random() < 0.3
    )
    when = datetime.fromtimestamp(ms / 1000, UTC)
    location, followers = profile
    return [
        snowflake(ms, i), author, author, author, location, "Les vraies nouvelles du Sahel", "",
        float(followers), 120.0, "2019-03-0" + str(1 + followers % 9), "fr", "fr",
        f"RT @{author[:8]}: {text}" if retweet else text, f"{when:%Y-%m-%d %H:%M}",
        rng.choice(CLIENTS), "", "", "", retweet, hashed("source") if retweet else "",
        rng.choice(originals) if retweet else "", "absent", "absent", 0.0, 0.0,
        float(rng.randint(0, 30)), float(rng.randint(0, 10)), repr(tags), repr(urls),
        repr([]), "",
    ]  # fmt: skip
