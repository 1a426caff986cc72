"""The demo world: a synthetic influence operation in the shape of the "Dia Diarra" case.

Everything here is invented and generated from a seed. The world is platform-neutral data
(personas, messages, images) plus the ground truth a test can check the analysis against; the
replay server renders it in each platform's real API shapes, and osint collects it like any other
source. Nothing in the collectors or analyzers knows about this module.

The cast, modelled on April 2022 in Mali:
- ``dia_diarra``: an X account created days before it posts pictures of a "mass grave" near Gossi
  and blames French forces; it claims Bamako (UTC+0) but keeps Moscow hours (UTC+3);
- a dozen amplifier accounts, most created in the same week, several sharing one stock avatar
  with small edits, that repost, quote and re-upload the pictures (recompressed, resized,
  cropped, captioned) with near-identical texts within minutes, also on Moscow hours;
- a Telegram channel and a Mastodon account relaying the pictures and the article link;
- organic accounts living ordinary lives on their own time zones, a few of whom repost the viral
  pictures hours later: they must not be flagged.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property, partial

from osint.demo import imagery
from osint.storage.kinds import PostKind

EVENT = datetime(2022, 4, 21, 8, 14, tzinfo=UTC)  # the first "grave" post
WINDOW_START = datetime(2022, 4, 1, tzinfo=UTC)
WINDOW_END = datetime(2022, 4, 25, tzinfo=UTC)
ARTICLE = "https://www.afrique-verite.example/gossi-charnier-armee-francaise"


@dataclass
class Persona:
    key: str
    platform: str  # x | telegram | mastodon
    platform_id: str
    handle: str
    display_name: str
    bio: str
    location: str
    created_at: datetime
    followers: int
    following: int
    avatar: str  # image key
    role: str  # source | amplifier | relay | organic
    utc_offset: int  # the hours the persona actually keeps


@dataclass
class Message:
    key: str
    platform: str
    author: str  # persona key
    platform_id: str
    created_at: datetime
    text: str
    kind: PostKind = PostKind.POST
    target: str | None = None  # message key of the reposted/quoted/replied message
    images: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)


@dataclass
class GroundTruth:
    source: str
    amplifiers: list[str]
    relays: list[str]
    organic: list[str]
    late_sharers: list[str]  # organic accounts that shared the viral pictures hours later
    shared_avatar: list[str]  # personas whose avatar is an edit of one stock portrait
    grave_images: list[str]  # original picture keys
    copies: dict[str, list[str]]  # original picture key -> re-uploaded copies' keys


@dataclass
class Scenario:
    personas: dict[str, Persona]
    messages: list[Message]
    image_makers: dict[str, Callable[[], bytes]]
    truth: GroundTruth

    @cached_property
    def images(self) -> dict[str, bytes]:
        return {key: make() for key, make in self.image_makers.items()}

    def by_platform(self, platform: str) -> tuple[list[Persona], list[Message]]:
        personas = [p for p in self.personas.values() if p.platform == platform]
        return personas, [m for m in self.messages if m.platform == platform]


class _Ids:
    """Platform-shaped ids: X snowflakes, Telegram per-channel counters, Mastodon snowflakes."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counters: dict[str, int] = {}

    def snowflake(self, when: datetime) -> str:
        ms = int(when.timestamp() * 1000) - 1288834974657  # X's epoch
        return str((ms << 22) | self.rng.getrandbits(22))

    def counter(self, scope: str) -> str:
        self.counters[scope] = self.counters.get(scope, 0) + 1
        return str(self.counters[scope])


def _human_time(rng: random.Random, day: datetime, utc_offset: int) -> datetime:
    """A waking-hours moment (local 07:00-23:30) of ``day``, as UTC."""
    local_hour = rng.choices(
        range(7, 24), weights=[2, 4, 5, 5, 4, 5, 6, 5, 4, 4, 5, 6, 7, 7, 6, 4, 2]
    )[0]
    moment = day.replace(hour=0, minute=0, second=0) + timedelta(
        hours=local_hour - utc_offset, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59)
    )
    return moment


ORGANIC_PLACES = [
    ("Bamako, Mali", 0),
    ("Dakar, Sénégal", 0),
    ("Abidjan", 0),
    ("Paris, France", 2),
    ("Lyon", 2),
    ("Montréal, QC", -4),
    ("Niamey", 1),
    ("Ouagadougou", 0),
    ("Conakry", 0),
    ("Bruxelles", 2),
    ("Kayes, Mali", 0),
    ("Ségou", 0),
    ("Lomé", 0),
    ("Marseille", 2),
]
ORGANIC_TOPICS = [
    ("Match ce soir, allez les Aigles ! #Mali", ["Mali"]),
    ("Le marché de Médina Coura est bondé ce matin", []),
    ("Coupure de courant encore une fois dans le quartier...", []),
    ("Bonne fête à toutes les mamans", []),
    ("Le thé de l'après-midi avec les amis, rien de mieux", []),
    ("Quelqu'un a des nouvelles du concours de la fonction publique ?", []),
    ("Il fait 43 degrés aujourd'hui, restez hydratés", ["Bamako"]),
    ("Nouvelle vidéo de cuisine : le tiguadègè de ma grand-mère", ["cuisine"]),
    ("Les résultats du bac arrivent quand ?", []),
    ("Embouteillage monstre sur le pont des Martyrs", ["Bamako"]),
    ("Lecture du jour : L'aventure ambiguë, toujours aussi fort", ["lecture"]),
    ("Ramadan moubarak à tous", ["Ramadan"]),
]
# Organic messages with a picture of their own: enough unrelated pictures (about forty) for
# the image analysis to prove it does not confuse them with the viral ones.
SNAPSHOT_SHARE = 0.03
AMPLIFIER_HANDLES = [
    "sahel_voice22",
    "mali_debout_",
    "afrique_libre7",
    "kati_infos",
    "verite_sahel_",
    "fasokan_media",
    "niger_eveil_",
    "panafrica_now1",
    "bamako_patriote",
    "sikasso_news",
    "dioula_actu",
    "mopti_direct",
]
AMPLIFIER_TEXTS = [
    "Charnier de Gossi : l'armée française accusée ! #Mali #Gossi",
    "Charnier de Gossi: l'armée française accusée !! #Mali #Gossi",
    "CHARNIER DE GOSSI : l'armée française accusée #Mali #Gossi",
    "Charnier de Gossi - l'armée française accusée ! #Mali #Gossi #FranceDehors",
]


# The source's follow-ups to the "grave" posts: (hours after the first, text, link).
FOLLOW_UPS = [
    (
        5,
        "Les habitants de Gossi témoignent : ils ont tout vu. #Gossi #FranceDehors",
        "https://sahel-verite.example/temoins-gossi",
    ),
    (9, "Regardez bien les images de Gossi avant qu'elles disparaissent. #Gossi", None),
    (26, "Paris nie, les images parlent. Partagez avant la censure ! #Mali #Gossi", None),
    (
        29,
        "Pourquoi les médias français se taisent sur Gossi ? #Gossi",
        "https://afrique-debout.example/silence-gossi",
    ),
    (
        33,
        "Un ancien soldat confirme ce qui s'est passé à Gossi.",
        "https://sahel-verite.example/soldat-gossi",
    ),
    (
        50,
        "Gossi : la France doit répondre devant les Maliens. #Mali #FranceDehors",
        "https://sahel-verite.example/gossi-justice",
    ),
    (53, "Le peuple malien n'oubliera pas Gossi. #Gossi", None),
    (
        57,
        "Barkhane, Gossi : la liste des mensonges s'allonge.",
        "https://afrique-debout.example/mensonges-barkhane",
    ),
    (74, "Manifestation à Bamako pour les victimes de Gossi ce vendredi. #Mali", None),
    (
        78,
        "Gossi, une semaine après : toujours aucune réponse de Paris. #Gossi",
        "https://sahel-verite.example/gossi-une-semaine",
    ),
]


def _add_source(sc: _Builder) -> str:
    rng = sc.rng
    key = "dia_diarra"
    sc.persona(
        key,
        "x",
        "dia_diarra",
        "Dia Diarra",
        "Patriote malien. La vérité sur la présence française au Sahel.",
        "Bamako, Mali",
        datetime(2022, 4, 14, 19, 12, 44, tzinfo=UTC),
        23,
        141,
        "avatar_stock",
        "source",
        3,
    )
    for day in range(15, 25):  # ordinary-looking filler, on Moscow hours
        for _ in range(rng.randint(4, 7)):
            when = _human_time(rng, datetime(2022, 4, day, tzinfo=UTC), 3)
            if abs((when - EVENT).total_seconds()) > 3600:
                sc.message(
                    key,
                    when,
                    rng.choice(
                        [
                            "Le Mali aux Maliens.",
                            "Qui profite de l'insécurité au Sahel ?",
                            "Merci aux FAMa pour leur courage",
                            "La France doit partir. #Mali",
                        ]
                    ),
                )
    grave = sc.message(
        key,
        EVENT,
        "Voici ce que l'armée française a laissé derrière elle à Gossi. "
        "On ne peut pas cacher ça. #Mali #Gossi",
        images=["grave_1", "grave_2"],
        links=[ARTICLE],
    )
    more = sc.message(
        key,
        EVENT + timedelta(minutes=17),
        "Autres images du charnier de Gossi, découvert après le départ des Français. #Gossi",
        images=["grave_3", "grave_4"],
    )
    sc.campaign = [grave, more]
    # The accusation is kept alive for days: a series of posts, each pushed by the network.
    for hours, text, link in FOLLOW_UPS:
        sc.campaign.append(
            sc.message(key, EVENT + timedelta(hours=hours), text, links=[link] if link else [])
        )
    return key


def _add_amplifiers(sc: _Builder) -> list[str]:
    rng = sc.rng
    keys = []
    edits = [
        "avatar_stock",
        "avatar_stock_tint",
        "avatar_stock_crop",
        "avatar_stock_small",
        "avatar_stock_recompressed",
        "avatar_stock_tint2",
    ]
    first, second = sc.campaign[:2]
    for i, handle in enumerate(AMPLIFIER_HANDLES):
        key = f"amp_{i:02d}"
        keys.append(key)
        if i < 9:  # a batch created in the same week
            created = datetime(2022, 4, 9, tzinfo=UTC) + timedelta(
                hours=rng.randint(0, 24 * 5), minutes=rng.randint(0, 59)
            )
        else:
            created = datetime(
                rng.randint(2019, 2021), rng.randint(1, 12), rng.randint(1, 28), tzinfo=UTC
            )
        avatar = edits[i] if i < len(edits) else f"avatar_{key}"
        sc.persona(
            key,
            "x",
            handle,
            handle.replace("_", " ").strip().title(),
            "Afrique libre et souveraine",
            rng.choice(["Bamako", "Mali", "Sahel", "Afrique"]),
            created,
            rng.randint(5, 90),
            rng.randint(100, 400),
            avatar,
            "amplifier",
            3,
        )
        for day in range(
            max(10, created.day if created.month == 4 and created.year == 2022 else 10), 25
        ):
            if rng.random() < 0.5:
                sc.message(
                    key,
                    _human_time(rng, datetime(2022, 4, day, tzinfo=UTC), 3),
                    rng.choice(
                        [
                            "Soutien total aux FAMa",
                            "Le Sahel aux Africains",
                            "#FranceDehors",
                            "Les médias occidentaux mentent",
                            "Vive la Russie, vrai partenaire",
                        ]
                    ),
                )
        # Each amplifier pushes both "grave" posts, mixing the moves real networks use:
        # a plain repost, a quote with the article link, or a re-upload of the pictures.
        for n, (target, picture) in enumerate(((first, "grave_1"), (second, "grave_3"))):
            # within minutes of the post, as a network pushing on cue does
            when = EVENT + timedelta(minutes=17 * n + rng.randint(1, 3), seconds=rng.randint(0, 59))
            move = (i + n) % 3
            if move == 0:
                sc.message(key, when, "", kind=PostKind.REPOST, target=target)
            elif move == 1:
                sc.message(
                    key,
                    when,
                    AMPLIFIER_TEXTS[(i + n) % 4],
                    kind=PostKind.QUOTE,
                    target=target,
                    links=[f"{ARTICLE}?utm_source=x&utm_campaign=sahel{i}"],
                )
            else:
                sc.message(
                    key,
                    when,
                    AMPLIFIER_TEXTS[(i + n) % 4],
                    images=[f"{picture}_copy_{i}"],
                    links=[f"{ARTICLE}/?fbclid=IwAR{i}x"],
                )
        # ... and most of the follow-ups, within minutes, by repost or quote.
        for n, target in enumerate(sc.campaign[2:]):
            if rng.random() < 0.2:
                continue
            hours = FOLLOW_UPS[n][0]
            when = EVENT + timedelta(
                hours=hours, minutes=rng.randint(1, 3), seconds=rng.randint(0, 59)
            )
            if (i + n) % 2 == 0:
                sc.message(key, when, "", kind=PostKind.REPOST, target=target)
            else:
                sc.message(
                    key,
                    when,
                    rng.choice(["À partager !", "Incroyable.", "La vérité éclate"]),
                    kind=PostKind.QUOTE,
                    target=target,
                )
    return keys


def _add_relays(sc: _Builder) -> list[str]:
    rng = sc.rng
    sc.persona(
        "tg_sahel",
        "telegram",
        "sahel_verite",
        "Sahel Vérité",
        "Les informations que les médias cachent.",
        "",
        datetime(2021, 11, 2, tzinfo=UTC),
        8400,
        0,
        "avatar_tg",
        "relay",
        3,
    )
    for day in range(5, 25):
        sc.message(
            "tg_sahel",
            _human_time(rng, datetime(2022, 4, day, tzinfo=UTC), 3),
            rng.choice(
                ["Revue de presse du jour", "Les FAMa avancent au centre", "Nouvelle vidéo bientôt"]
            ),
        )
    sc.message(
        "tg_sahel",
        EVENT + timedelta(minutes=26),
        f"URGENT Charnier de Gossi : l'armée française accusée {ARTICLE}",
        images=["grave_1_copy_tg", "grave_2"],
        links=[ARTICLE],
    )
    sc.persona(
        "masto_sahel",
        "mastodon",
        "sahelinfo",
        "Sahel Info",
        "<p>Actualité du Sahel</p>",
        "Sahel",
        datetime(2022, 3, 30, tzinfo=UTC),
        310,
        12,
        "avatar_masto",
        "relay",
        3,
    )
    for day in range(2, 25, 2):
        sc.message(
            "masto_sahel",
            _human_time(rng, datetime(2022, 4, day, tzinfo=UTC), 3),
            rng.choice(["Point de situation au Sahel", "Tribune : pour une vraie souveraineté"]),
        )
    sc.message(
        "masto_sahel",
        EVENT + timedelta(minutes=41),
        "Charnier de Gossi : l'armée française accusée ! #Mali #Gossi",
        images=["grave_3_copy_masto"],
        links=[f"{ARTICLE}?utm_source=mastodon"],
    )
    return ["tg_sahel", "masto_sahel"]


def _add_organic(sc: _Builder, count: int) -> tuple[list[str], list[str]]:
    rng = sc.rng
    keys, late = [], []
    first = sc.campaign[0]
    for i in range(count):
        key = f"org_{i:02d}"
        keys.append(key)
        place, offset = ORGANIC_PLACES[i % len(ORGANIC_PLACES)]
        created = datetime(
            rng.randint(2010, 2020), rng.randint(1, 12), rng.randint(1, 28), tzinfo=UTC
        )
        sc.persona(
            key,
            "x",
            f"{rng.choice(['awa', 'moussa', 'fatou', 'ibrahim', 'aminata', 'seydou', 'claire', 'marc'])}"
            f"_{rng.randint(10, 9999)}",
            f"Person {i}",
            "",
            place,
            created,
            rng.randint(40, 3000),
            rng.randint(50, 800),
            f"avatar_{key}",
            "organic",
            offset,
        )
        for day in range(1, 25):
            for _ in range(rng.choices([0, 1, 2, 3], weights=[3, 4, 2, 1])[0]):
                text, tags = rng.choice(ORGANIC_TOPICS)
                images = [f"snap_{key}_{day}"] if rng.random() < SNAPSHOT_SHARE else []
                sc.message(
                    key,
                    _human_time(rng, datetime(2022, 4, day, tzinfo=UTC), offset),
                    text,
                    images=images,
                    hashtags=tags,
                )
        if i % 7 == 3:  # shares the viral post, hours later
            late.append(key)
            sc.message(
                key,
                EVENT + timedelta(hours=rng.randint(6, 30), minutes=rng.randint(0, 59)),
                "",
                kind=PostKind.REPOST,
                target=first,
            )
    return keys, late


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ids = _Ids(random.Random(seed + 1))
        self.personas: dict[str, Persona] = {}
        self.messages: list[Message] = []
        self._by_author: dict[str, list[str]] = {}
        self.campaign: list[str] = []  # the source's "grave" posts, then its follow-ups

    def persona(
        self,
        key: str,
        platform: str,
        handle: str,
        name: str,
        bio: str,
        location: str,
        created: datetime,
        followers: int,
        following: int,
        avatar: str,
        role: str,
        offset: int,
    ) -> None:
        pid = {
            "x": lambda: str(10**17 + self.rng.getrandbits(50)),
            "telegram": lambda: handle,
            "mastodon": lambda: str(108000000000000000 + self.rng.getrandbits(40)),
        }[platform]()
        self.personas[key] = Persona(
            key,
            platform,
            pid,
            handle,
            name,
            bio,
            location,
            created,
            followers,
            following,
            avatar,
            role,
            offset,
        )

    def message(self, author: str, when: datetime, text: str, **kw: object) -> str:
        platform = self.personas[author].platform
        pid = self.ids.counter(author) if platform == "telegram" else self.ids.snowflake(when)
        key = f"{author}/{pid}"
        self.messages.append(Message(key, platform, author, pid, when, text, **kw))  # type: ignore[arg-type]
        self._by_author.setdefault(author, []).append(key)
        return key

    def keys_of(self, author: str) -> list[str]:
        return self._by_author[author]


def _derived(original: Callable[[], bytes], transform: Callable[[bytes], bytes]) -> bytes:
    return transform(original())


def _image_makers(
    sc: _Builder, seed: int
) -> tuple[dict[str, Callable[[], bytes]], dict[str, list[str]]]:
    makers: dict[str, Callable[[], bytes]] = {}
    for n in range(1, 5):  # drawn once, however many copies derive from them
        makers[f"grave_{n}"] = cache(partial(imagery.scene, seed * 10 + n))
    copies: dict[str, list[str]] = {f"grave_{n}": [] for n in range(1, 5)}
    transforms: list[Callable[[bytes], bytes]] = [
        imagery.recompress,
        imagery.resize,
        partial(imagery.crop, fraction=0.1),
        partial(imagery.caption, text="GOSSI : LA VÉRITÉ"),
    ]
    for msg in sc.messages:
        for key in msg.images:
            if "_copy_" in key and key not in makers:
                original = key.split("_copy_")[0]
                transform = transforms[len(copies[original]) % len(transforms)]
                makers[key] = partial(_derived, makers[original], transform)
                copies[original].append(key)
            elif key.startswith("snap_") and key not in makers:
                makers[key] = partial(imagery.snapshot, zlib.crc32(key.encode()) + seed)
    makers["avatar_stock"] = cache(partial(imagery.portrait, seed + 1))
    makers["avatar_stock_tint"] = lambda: imagery.tint(makers["avatar_stock"]())
    makers["avatar_stock_tint2"] = lambda: imagery.tint(makers["avatar_stock"](), 0.8)
    makers["avatar_stock_crop"] = lambda: imagery.crop(makers["avatar_stock"](), 0.06)
    makers["avatar_stock_small"] = lambda: imagery.resize(makers["avatar_stock"](), 0.5)
    makers["avatar_stock_recompressed"] = lambda: imagery.recompress(makers["avatar_stock"](), 35)
    for persona in sc.personas.values():
        if persona.avatar not in makers:
            makers[persona.avatar] = partial(
                imagery.portrait, zlib.crc32(persona.avatar.encode()) + seed
            )
    return makers, copies


def build_scenario(seed: int = 2022, organic: int = 40) -> Scenario:
    """The whole demo world; the same seed gives the same world, byte for byte."""
    sc = _Builder(seed)
    source = _add_source(sc)
    amplifiers = _add_amplifiers(sc)
    relays = _add_relays(sc)
    organic_keys, late = _add_organic(sc, organic)
    sc.messages.sort(key=lambda m: m.created_at)
    makers, copies = _image_makers(sc, seed)
    shared = [p.key for p in sc.personas.values() if p.avatar.startswith("avatar_stock")]
    truth = GroundTruth(
        source,
        amplifiers,
        relays,
        organic_keys,
        late,
        shared,
        [f"grave_{n}" for n in range(1, 5)],
        copies,
    )
    return Scenario(sc.personas, sc.messages, makers, truth)
