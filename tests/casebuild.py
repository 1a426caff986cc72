"""Builds a small "collected" case for the report, bundle, verify and WACZ tests.

What a collection would leave behind, made by hand: a collection run, a gzipped WARC file under
OSINT_HOME written with warcio (profile, timeline and image responses), Capture rows pointing at
its records, accounts with a profile change, posts (some with hostile texts), images in the media
store, an image cluster with hashes, findings with evidence, and a monitoring event.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from osint.cases import create_case
from osint.config import Settings
from osint.runs import finish_run, start_run
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter
from osint.storage.models import Event, Finding, FindingEvidence, ImageClusterMember, ImageHash
from osint.storage.records import CaptureRecord
from tests.factories import make_account, make_media_ref, make_post, make_profile

T0 = datetime(2022, 4, 21, 9, 0, tzinfo=UTC)
HOSTILE_TEXTS = (
    '<script>document.title="pwned";document.body.insertAdjacentHTML("beforeend",'
    '"<b id=pwned-script>x</b>")</script> grave near Gossi',
    "<img src=x onerror=\"document.title='pwned';document.body.id='pwned-img'\"> look",
    "see <a href=\"javascript:document.title='pwned'\" id=pwned-link>this</a>",
    "evidence \u202egnp.exe and \u2066isolated\u2069 text",
)
JS_URL = "javascript:document.title='pwned'"


@dataclass
class BuiltCase:
    name: str
    case_id: int
    run_id: int
    warc_path: Path
    warc_relative: str
    capture_ids: list[int]
    media_sha256: list[str]
    account_ids: list[int]
    post_ids: list[int]
    hostile_post_ids: list[int] = field(default_factory=list)


def picture(seed: int, size: tuple[int, int] = (96, 72)) -> Image.Image:
    """A small synthetic picture: shapes whose layout depends on ``seed``."""
    img = Image.new("RGB", size, (240 - seed * 20, 230, 210 + seed * 10))
    draw = ImageDraw.Draw(img)
    for i in range(4):
        x = (seed * 17 + i * 23) % size[0]
        y = (seed * 11 + i * 19) % size[1]
        draw.rectangle([x, y, x + 20, y + 14], fill=(40 * i, 90 + seed * 30, 160 - 30 * i))
    draw.ellipse([10, 10, 40, 40], fill=(200, 30 + seed * 40, 40))
    return img


def encode(img: Image.Image, fmt: str = "JPEG", **kw: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


class WarcSink:
    """Writes response records into one gzipped WARC file and says where each one went."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fh = path.open("wb")
        self.writer = WARCWriter(self.fh, gzip=True)

    def response(self, url: str, body: bytes, content_type: str, when: datetime) -> CaptureRecord:
        headers = StatusAndHeaders(
            "200 OK",
            [("Content-Type", content_type), ("Content-Length", str(len(body)))],
            protocol="HTTP/1.1",
        )
        record = self.writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            http_headers=headers,
            warc_headers_dict={"WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
        )
        offset = self.fh.tell()
        self.writer.write_record(record)
        return CaptureRecord(
            url=url,
            fetched_at=when,
            sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
            status_code=200,
            content_type=content_type,
            warc_offset=offset,
            warc_length=self.fh.tell() - offset,
            warc_record_id=record.rec_headers.get_header("WARC-Record-ID"),
        )

    def close(self) -> None:
        self.fh.close()


def build_case(store: Store, settings: Settings, name: str = "gossi") -> BuiltCase:
    """Create case ``name`` in the store with everything a collection would have written."""
    case_id = create_case(store, name, title="Gossi grave", description="Staged? <b>bold</b>").id
    rel = f"warc/{name}/run-1.warc.gz"
    sink = WarcSink(settings.home / rel)
    originals = [encode(picture(1)), encode(picture(2), "PNG")]
    copy = encode(picture(1).resize((80, 60)), quality=60)
    images = [*originals, copy]
    shas = [store.media.put(data).sha256 for data in images]
    with store.session() as session:
        run = start_run(
            session,
            settings,
            case_id=case_id,
            kind="collect",
            platform="x",
            target="@dia_diarra",
            params={"since": "2022-04-20"},
        )
        writer = CaseWriter(session, case_id, source="x")
        built = _write_records(writer, sink, run.id, images, shas, rel)
        finish_run(
            session,
            run.id,
            status="completed",
            counts={"posts": len(built.post_ids)},
            errors=["https://pbs.example/media/404.jpg: HTTP 404"],
        )
    sink.close()
    built.name, built.case_id, built.run_id = name, case_id, run.id
    built.warc_path, built.warc_relative, built.media_sha256 = sink.path, rel, shas
    return built


def _capture(
    writer: CaseWriter,
    sink: WarcSink,
    run_id: int,
    rel: str,
    url: str,
    body: bytes,
    ctype: str,
    when: datetime,
) -> int:
    rec = sink.response(url, body, ctype, when)
    rec.warc_file = rel
    return writer.capture(rec, run_id=run_id)


def _write_records(
    writer: CaseWriter,
    sink: WarcSink,
    run_id: int,
    images: list[bytes],
    shas: list[str],
    rel: str,
) -> BuiltCase:
    dia = make_account(handle="dia_diarra", display_name="Dia Diarra", platform_id="1001")
    amp = [make_account(handle=f"amp{i}", platform_id=f"20{i}") for i in range(3)]
    profile_1 = json.dumps({"handle": "dia_diarra", "bio": "Malian patriot"}).encode()
    cap_p1 = _capture(
        writer, sink, run_id, rel, "https://api.x.com/users/1001", profile_1, "application/json", T0
    )
    media_ids = [
        writer.media(
            sha256=s,
            size=len(b),
            mime="image/jpeg" if b[:2] == b"\xff\xd8" else "image/png",
            width=96,
            height=72,
            source_url=f"https://pbs.example/{i}.jpg",
        )
        for i, (s, b) in enumerate(zip(shas, images, strict=True))
    ]
    writer.snapshot(
        make_profile(dia, bio="Malian patriot", url=JS_URL),
        captured_at=T0,
        capture_id=cap_p1,
        avatar_media_id=media_ids[1],
    )
    renamed = make_account(
        handle="dia_diarra2", display_name="Dia \u202eDiarra", platform_id="1001"
    )
    cap_p2 = _capture(
        writer,
        sink,
        run_id,
        rel,
        "https://api.x.com/users/1001?2",
        b'{"handle": "dia_diarra2"}',
        "application/json",
        T0 + timedelta(days=2),
    )
    writer.snapshot(
        make_profile(renamed, bio=""), captured_at=T0 + timedelta(days=2), capture_id=cap_p2
    )
    for acc in amp:
        writer.snapshot(make_profile(acc), captured_at=T0, capture_id=cap_p1)
    page = json.dumps({"data": [t for t in HOSTILE_TEXTS]}).encode()
    cap_tl = _capture(
        writer,
        sink,
        run_id,
        rel,
        "https://api.x.com/users/1001/tweets",
        page,
        "application/json",
        T0 + timedelta(hours=1),
    )
    img_caps = [
        _capture(
            writer,
            sink,
            run_id,
            rel,
            f"https://pbs.example/{i}.jpg",
            b,
            "image/jpeg",
            T0 + timedelta(hours=1),
        )
        for i, b in enumerate(images)
    ]
    posts = [
        make_post(
            renamed,
            text=HOSTILE_TEXTS[0],
            url="https://x.com/dia_diarra/status/1",
            created_at=T0,
            capture_id=cap_tl,
            media=[make_media_ref(sha256=shas[0], source_url="https://pbs.example/0.jpg")],
        ),
        make_post(
            renamed,
            text=HOSTILE_TEXTS[1],
            url=JS_URL,
            created_at=T0 + timedelta(hours=2),
            capture_id=cap_tl,
        ),
        make_post(
            renamed, text=HOSTILE_TEXTS[2], created_at=T0 + timedelta(hours=3), capture_id=cap_tl
        ),
        make_post(
            renamed, text=HOSTILE_TEXTS[3], created_at=T0 + timedelta(hours=4), capture_id=cap_tl
        ),
    ]
    for i, acc in enumerate(amp):
        posts.append(
            make_post(
                acc,
                kind="repost",
                text="RT grave near Gossi",
                created_at=T0 + timedelta(minutes=5 + i),
                capture_id=cap_tl,
                media=[make_media_ref(sha256=shas[2] if i == 0 else shas[0])],
            )
        )
    result = writer.posts(posts, seen_at=T0 + timedelta(hours=1))
    ids = [result.ids[p.platform_id] for p in posts]
    account_ids = list(writer.accounts([renamed, *amp]).values())
    _write_analysis(writer, media_ids, ids, account_ids)
    return BuiltCase(
        "",
        0,
        run_id,
        Path(),
        rel,
        [cap_p1, cap_p2, cap_tl, *img_caps],
        shas,
        account_ids,
        ids,
        hostile_post_ids=ids[:4],
    )


def _write_analysis(
    writer: CaseWriter, media_ids: list[int], post_ids: list[int], account_ids: list[int]
) -> None:
    session = writer.session
    case_id = writer.case_id
    for media_id, value in ((media_ids[0], "c3c3e1e1f0f0b0b0"), (media_ids[2], "c3c3e1e1f0f0b0b1")):
        session.add(ImageHash(media_id=media_id, algorithm="phash", value=value))
    session.add(
        ImageClusterMember(
            case_id=case_id,
            cluster_no=1,
            media_id=media_ids[0],
            distance=0,
            transforms=[],
            representative=True,
        )
    )
    session.add(
        ImageClusterMember(
            case_id=case_id,
            cluster_no=1,
            media_id=media_ids[2],
            distance=1,
            transforms=["resized", "recompressed"],
        )
    )
    reuse = Finding(
        case_id=case_id,
        analysis="images",
        kind="image_reuse",
        score=0.9,
        title="Same grave photo posted by 2 accounts <i>",
        explanation="The photo first posted by @dia_diarra reappears resized.",
        details={"cluster_no": 1, "max_distance": 1},
    )
    group = Finding(
        case_id=case_id,
        analysis="coordination",
        kind="coordinated_group",
        score=0.75,
        title="4 accounts reposted within 5 minutes",
        explanation="Accounts amp0-amp2 reposted the same post within 3 minutes.",
        details={
            "edges": [
                [account_ids[1], account_ids[2], 2],
                [account_ids[2], account_ids[3], 1],
                [account_ids[0], account_ids[1], 1],
            ],
            "window_seconds": 300,
        },
    )
    session.add_all([reuse, group])
    session.flush()
    evidence = [
        FindingEvidence(finding_id=reuse.id, media_id=media_ids[0], role="first_poster"),
        FindingEvidence(finding_id=reuse.id, media_id=media_ids[2]),
        FindingEvidence(finding_id=reuse.id, post_id=post_ids[0], account_id=account_ids[0]),
        FindingEvidence(finding_id=reuse.id, post_id=post_ids[4], account_id=account_ids[1]),
    ]
    evidence += [FindingEvidence(finding_id=group.id, account_id=a) for a in account_ids]
    evidence += [FindingEvidence(finding_id=group.id, post_id=p) for p in post_ids[4:]]
    session.add_all(evidence)
    session.add(
        Event(
            case_id=case_id,
            kind="profile_changed",
            account_id=account_ids[0],
            before={"handle": "dia_diarra"},
            after={"handle": "dia_diarra2"},
        )
    )
    session.flush()
