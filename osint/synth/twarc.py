"""twarc2 JSONL of generated tweets, for the import tests and the import benchmark.

Seeded, so a test and a bench run read the same file for the same size.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SEED = 20220421

_WORDS = [
    "mali",
    "gossi",
    "charnier",
    "armée",
    "française",
    "wagner",
    "sahel",
    "bamako",
    "vérité",
    "images",
    "preuve",
    "soldats",
    "village",
    "population",
    "témoins",
    "russie",
    "barkhane",
    "base",
    "départ",
    "mensonge",
    "justice",
    "enquête",
]


def write_twarc_jsonl(path: Path, posts: int) -> None:
    """twarc2 output: one X API v2 page of 100 tweets per line, stamped with ``__twarc``.

    Tweets carry text (half of it copied across accounts, as coordinated campaigns do), a
    hashtag (60%) and a link from a pool (40%) in ``entities``; a fifth are retweets of a pool of
    originals and a tenth replies. Every tweet still brings objects of its own (its text).
    """
    rng = random.Random(SEED)
    accounts = max(posts // 20, 10)
    phrases = [" ".join(rng.choices(_WORDS, k=9)) for _ in range(max(posts // 50, 10))]
    created = 1_650_000_000
    twarc = {"url": "https://api.x.com/2/tweets/search/all", "version": "2.14.0"}
    with path.open("w") as fh:
        for start in range(0, posts, 100):
            tweets, users = [], {}
            for i in range(start, min(start + 100, posts)):
                created += rng.randint(0, 4)
                author = int(accounts * rng.random() ** 2)
                users[author] = {
                    "id": str(author),
                    "username": f"user{author}",
                    "name": f"U {author}",
                }
                tweets.append(_tweet(rng, i, author, created, phrases))
            page = {
                "data": tweets,
                "includes": {"users": list(users.values())},
                "meta": {"result_count": len(tweets)},
                "__twarc": {**twarc, "retrieved_at": "2022-04-22T10:00:00+00:00"},
            }
            fh.write(json.dumps(page) + "\n")


def _tweet(
    rng: random.Random, i: int, author: int, created: int, phrases: list[str]
) -> dict[str, Any]:
    text = rng.choice(phrases) if rng.random() < 0.5 else " ".join(rng.choices(_WORDS, k=12))
    entities: dict[str, Any] = {}
    if rng.random() < 0.6:
        tag = rng.choice(_WORDS)
        text += f" #{tag}"
        entities["hashtags"] = [{"start": 0, "end": 1, "tag": tag}]
    if rng.random() < 0.4:  # links come from a pool: campaigns push the same few pages
        url = f"https://news{rng.randint(0, 99)}.example.com/a/{rng.randint(0, 5_000)}"
        text += f" {url}"
        entities["urls"] = [{"start": 0, "end": 1, "url": "https://t.co/x", "expanded_url": url}]
    tweet: dict[str, Any] = {
        "id": str(1_500_000_000_000_000_000 + i),
        "author_id": str(author),
        "created_at": datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", ".000Z"),
        "text": text,
        "lang": "fr",
        "entities": entities,
        "public_metrics": {"retweet_count": rng.randint(0, 50), "like_count": rng.randint(0, 99)},
    }
    roll = rng.random()
    if roll < 0.2:  # retweets of a pool of originals
        tweet["referenced_tweets"] = [{"type": "retweeted", "id": str(rng.randint(1, 20_000))}]
        tweet["text"] = f"RT @user{rng.randint(0, 999)}: {text}"
    elif roll < 0.3:
        tweet["referenced_tweets"] = [{"type": "replied_to", "id": str(rng.randint(1, 10**6))}]
    return tweet
