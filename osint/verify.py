"""Verifying an evidence bundle: every file against the manifest, and the timestamp if present.

Nothing is extracted: members are hashed as they stream out of the zip (stored members straight
from the file with ``os.pread``, two at a time, as fast as SHA-256 goes). Before anything is
read, the zip's directory is checked: names that climb out (``../``) or are absolute, symlinks,
duplicate names, encrypted members, overlapping members and zip bombs (too many members, too
large in total, or compressed beyond any ratio real evidence reaches) make verify refuse the file.
Only ``openssl ts -verify`` sees files on disk: the manifest and token, in a temporary folder.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from osint.bundle import MANIFEST, TIMESTAMP
from osint.errors import InputError, OsintError, VerifyError
from osint.timestamp import TimestampInfo, check_response, verify_signature

CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LOCAL_HEADER = 30


@dataclass(frozen=True)
class VerifyLimits:
    """What verify accepts before it reads anything: beyond these a zip is refused as a bomb."""

    max_members: int = 2_000_000
    max_total_bytes: int = 1 << 40  # 1 TiB uncompressed
    max_ratio: float = 200.0  # deflate reaches ~1000:1 on junk; real evidence stays far below
    ratio_min_bytes: int = 1 << 20  # small members may compress well; they cannot blow up
    max_manifest_bytes: int = 512 << 20


@dataclass(frozen=True)
class Problem:
    kind: str  # missing | extra | altered | manifest | timestamp
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.upper()} {self.path}: {self.detail}"


@dataclass
class VerifyResult:
    path: Path
    manifest_sha256: str
    case: str
    created_at: str
    files_checked: int = 0
    bytes_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    omitted: list[dict[str, Any]] = field(default_factory=list)
    timestamp: TimestampInfo | None = None
    timestamp_signature_checked: bool = False
    timestamp_signature_failed: bool = False
    expected_sha256: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _refuse(path: Path, reason: str) -> VerifyError:
    return VerifyError(f"refusing {path}: {reason}", hint="this is not a bundle osint would write")


def unsafe_name(name: str) -> str | None:
    """Why a member name is unsafe to hold in a bundle (None when it is fine)."""
    if not name or "\x00" in name:
        return "empty or NUL in name"
    if "\\" in name:
        return "backslash in name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in PurePosixPath(name).parts:
        return "path climbs out with '..'"
    return None


def check_members(path: Path, infos: list[zipfile.ZipInfo], limits: VerifyLimits) -> None:
    """Refuse (VerifyError) unsafe names, symlinks, duplicates, encryption and zip bombs."""
    if len(infos) > limits.max_members:
        raise _refuse(path, f"{len(infos):,} members (more than {limits.max_members:,})")
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.orig_filename
        reason = unsafe_name(name)
        if reason:
            raise _refuse(path, f"member {name!r}: {reason}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse(path, f"member {name!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise _refuse(path, f"member {name!r} is encrypted")
        if name in seen:
            raise _refuse(path, f"member {name!r} appears twice")
        seen.add(name)
        total += info.file_size
        if info.file_size > limits.ratio_min_bytes and (
            info.file_size > limits.max_ratio * max(info.compress_size, 1)
        ):
            raise _refuse(
                path,
                f"member {name!r} expands {info.file_size / max(info.compress_size, 1):,.0f}"
                f" times (a zip bomb?)",
            )
    if total > limits.max_total_bytes:
        raise _refuse(path, f"{total:,} bytes uncompressed (more than {limits.max_total_bytes:,})")
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for this, following in itertools.pairwise(ordered):
        if this.header_offset + _LOCAL_HEADER + this.compress_size > following.header_offset:
            raise _refuse(
                path,
                f"members {this.orig_filename!r} and "
                f"{following.orig_filename!r} overlap (a zip bomb?)",
            )


def _read_manifest(
    path: Path, zf: zipfile.ZipFile, fd: int, limits: VerifyLimits
) -> tuple[bytes, dict[str, Any]]:
    try:
        info = zf.getinfo(MANIFEST)
    except KeyError:
        raise VerifyError(f"{path} has no {MANIFEST}: not an osint evidence bundle") from None
    if info.file_size > limits.max_manifest_bytes:
        raise _refuse(path, f"{MANIFEST} is {info.file_size:,} bytes")
    try:
        data = read_member(fd, info)
        manifest = json.loads(data)
    except RecursionError:
        raise VerifyError(
            f"{MANIFEST} in {path} is nested too deeply to be a manifest osint wrote"
        ) from None
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError, OSError) as exc:
        raise VerifyError(f"{MANIFEST} in {path} is damaged: {exc}") from exc
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list):
        raise VerifyError(f"{MANIFEST} in {path} has no file list")
    seen = set()
    for entry in files:
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("size"), int)
            and isinstance(entry.get("sha256"), str)
            and _SHA256.match(entry["sha256"])
            and unsafe_name(entry["path"]) is None
            and entry["path"] not in seen
        )
        if not ok:
            raise VerifyError(f"{MANIFEST} in {path} has a bad entry: {_short(entry)}")
        seen.add(entry["path"])
    omitted = manifest.get("omitted") or []
    if not isinstance(omitted, list) or not all(
        isinstance(item, dict) and all(isinstance(v, str) for v in item.values())
        for item in omitted
    ):
        raise VerifyError(f"{MANIFEST} in {path} has a bad list of omitted files")
    return data, manifest


def _short(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=True)[:200]
    except (RecursionError, ValueError, TypeError):
        return f"a {type(value).__name__} osint cannot show"


def read_member(fd: int, info: zipfile.ZipInfo) -> bytes:
    """A (small) member's bytes, read and checked as :func:`_hash_member` checks them."""
    state = _MemberHash(info.file_size, keep=True)
    _read_into(fd, info, state)
    return b"".join(state.pieces or [])


def _data_offset(fd: int, info: zipfile.ZipInfo) -> int:
    """Where a member's data starts, after its local header (checked against the directory)."""
    header = os.pread(fd, _LOCAL_HEADER, info.header_offset)
    if len(header) < _LOCAL_HEADER or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local file header")
    if int.from_bytes(header[8:10], "little") != info.compress_type:
        raise zipfile.BadZipFile("compression method in the local header differs")
    name_len = int.from_bytes(header[26:28], "little")
    extra_len = int.from_bytes(header[28:30], "little")
    name = os.pread(fd, name_len, info.header_offset + _LOCAL_HEADER)
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    if name != info.orig_filename.encode(encoding):
        raise zipfile.BadZipFile("name in the local header differs from the directory")
    return info.header_offset + _LOCAL_HEADER + name_len + extra_len


def _compressed_chunks(fd: int, info: zipfile.ZipInfo) -> Iterator[bytes]:
    offset, left = _data_offset(fd, info), info.compress_size
    while left > 0:
        data = os.pread(fd, min(CHUNK, left), offset)
        if not data:
            raise zipfile.BadZipFile("member is truncated")
        offset += len(data)
        left -= len(data)
        yield data


def _hash_member(fd: int, info: zipfile.ZipInfo) -> tuple[int, str]:
    """SHA-256 and length of a member, read to its very end straight from the file.

    Deflated data is inflated here, never past the size the directory declares (a member that
    inflates further is refused as soon as it does); the compressed stream must end exactly
    where the member ends, and the CRC-32 of what came out must be the directory's.
    """
    state = _MemberHash(info.file_size)
    _read_into(fd, info, state)
    return state.size, state.digest.hexdigest()


def _read_into(fd: int, info: zipfile.ZipInfo, state: _MemberHash) -> None:
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise zipfile.BadZipFile("stored member with two different sizes")
        for chunk in _compressed_chunks(fd, info):
            state.update(chunk)
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        _inflate_member(fd, info, state)
    else:
        raise NotImplementedError(
            f"compression method {info.compress_type} is not one osint writes"
        )
    if state.size != info.file_size:
        raise zipfile.BadZipFile(f"{state.size:,} bytes, the zip directory says {info.file_size:,}")
    if state.crc != info.CRC:
        raise zipfile.BadZipFile(
            f"bad CRC-32 {state.crc:08x} (the zip directory says {info.CRC:08x})"
        )


class _MemberHash:
    """SHA-256, CRC-32 and length of a member's bytes, refusing more than it declares."""

    def __init__(self, declared: int, *, keep: bool = False) -> None:
        self.declared, self.size, self.crc = declared, 0, 0
        self.digest = hashlib.sha256()
        self.pieces: list[bytes] | None = [] if keep else None

    def update(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.declared:
            raise zipfile.BadZipFile(
                f"member inflates past its declared size of {self.declared:,} bytes"
            )
        self.digest.update(data)
        self.crc = zlib.crc32(data, self.crc)
        if self.pieces is not None:
            self.pieces.append(data)


def _inflate_member(fd: int, info: zipfile.ZipInfo, state: _MemberHash) -> None:
    """Inflate in bounded pieces: never more than CHUNK bytes out per step, nor past the size."""
    inflate = zlib.decompressobj(-zlib.MAX_WBITS)
    for chunk in _compressed_chunks(fd, info):
        if inflate.eof:
            raise zipfile.BadZipFile("compressed data goes on past the end of its stream")
        data = chunk
        while data and not inflate.eof:
            state.update(inflate.decompress(data, min(CHUNK, state.declared - state.size + 1)))
            data = inflate.unconsumed_tail
        if inflate.eof and (data or inflate.unused_data):
            raise zipfile.BadZipFile("compressed data goes on past the end of its stream")
    while not inflate.eof:  # output zlib still holds
        out = inflate.decompress(b"", min(CHUNK, state.declared - state.size + 1))
        if not out:
            raise zipfile.BadZipFile("compressed data ends before its stream does")
        state.update(out)


def _check_entry(
    fd: int, infos: dict[str, zipfile.ZipInfo], entry: dict[str, Any]
) -> tuple[int, Problem | None]:
    name = entry["path"]
    info = infos.get(name)
    if info is None:
        return 0, Problem("missing", name, "listed in the manifest but not in the bundle")
    if info.file_size != entry["size"]:
        return 0, Problem(
            "altered", name, f"{info.file_size:,} bytes, the manifest says {entry['size']:,}"
        )
    try:
        size, sha = _hash_member(fd, info)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
        return 0, Problem("altered", name, f"cannot be read back intact ({exc})")
    if sha != entry["sha256"]:
        return size, Problem(
            "altered", name, f"SHA-256 is {sha}, the manifest says {entry['sha256']}"
        )
    if size != entry["size"]:
        return size, Problem(
            "altered", name, f"{size:,} bytes, the manifest says {entry['size']:,}"
        )
    return size, None


def verify_bundle(
    path: Path,
    *,
    tsa_cert: Path | None = None,
    expect: str | None = None,
    limits: VerifyLimits | None = None,
    workers: int = 2,
) -> VerifyResult:
    """Check a bundle; the result lists every problem (``ok`` when there is none).

    ``expect`` is the SHA-256 of manifest.json recorded when the bundle was made: with it, a
    bundle changed and re-hashed consistently fails. Raises VerifyError when the file cannot be
    checked at all (not a zip, no manifest, unsafe).
    """
    limits = limits or VerifyLimits()
    expected = _expected_hash(expect)
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}", hint="give the path of a bundle .zip")
    if tsa_cert is not None and not Path(tsa_cert).is_file():
        raise InputError(f"no such certificate file: {tsa_cert}")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise VerifyError(f"cannot open {path} as a zip file: {exc}") from exc
    with zf, path.open("rb") as raw:
        infos = zf.infolist()
        check_members(path, infos, limits)
        manifest_bytes, manifest = _read_manifest(path, zf, raw.fileno(), limits)
        result = VerifyResult(
            path=path,
            manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
            case=_text(manifest.get("case")),
            created_at=_text(manifest.get("created_at")),
            omitted=list(manifest.get("omitted") or []),
            expected_sha256=expected,
        )
        if expected is not None and expected != result.manifest_sha256:
            result.problems.append(
                Problem(
                    "manifest",
                    MANIFEST,
                    f"its SHA-256 is {result.manifest_sha256}, not the {expected} you expected: "
                    "this is not the bundle that hash was recorded for",
                )
            )
        by_name = {i.orig_filename: i for i in infos if not i.is_dir()}
        entries = sorted(manifest["files"], key=lambda e: -e["size"])
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            checks = pool.map(lambda e: _check_entry(raw.fileno(), by_name, e), entries)
            for size, problem in checks:
                result.bytes_checked += size
                result.files_checked += 1
                if problem:
                    result.problems.append(problem)
        listed = {e["path"] for e in manifest["files"]} | {MANIFEST, TIMESTAMP}
        for name in sorted(set(by_name) - listed):
            result.problems.append(Problem("extra", name, "in the bundle but not in the manifest"))
        _check_timestamp(raw.fileno(), by_name, manifest_bytes, tsa_cert, result)
    result.problems.sort(key=lambda p: (p.path, p.kind))
    return result


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _expected_hash(expect: str | None) -> str | None:
    if expect is None:
        return None
    value = expect.strip().lower().removeprefix("sha256:")
    if not _SHA256.match(value):
        raise InputError(
            f"--expect {expect!r} is not a SHA-256",
            hint="give the 64 hex digits printed as 'manifest.json sha256' when the bundle was made",
        )
    return value


def _check_timestamp(
    fd: int,
    by_name: dict[str, zipfile.ZipInfo],
    manifest_bytes: bytes,
    tsa_cert: Path | None,
    result: VerifyResult,
) -> None:
    if TIMESTAMP not in by_name:
        if tsa_cert is not None:
            result.problems.append(Problem("timestamp", TIMESTAMP, "no timestamp token to check"))
        return
    info = by_name[TIMESTAMP]
    if info.file_size > 1 << 20:
        result.problems.append(Problem("timestamp", TIMESTAMP, "oversized token"))
        return
    try:
        token = read_member(fd, info)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError) as exc:
        result.problems.append(Problem("timestamp", TIMESTAMP, f"cannot be read intact ({exc})"))
        return
    try:
        result.timestamp = check_response(token, manifest_bytes)
    except OsintError as exc:
        result.problems.append(Problem("timestamp", TIMESTAMP, exc.message))
        return
    if tsa_cert is None:
        return
    with tempfile.TemporaryDirectory(prefix="osint-verify-") as tmp:
        data_path, token_path = Path(tmp, MANIFEST), Path(tmp, TIMESTAMP)
        data_path.write_bytes(manifest_bytes)
        token_path.write_bytes(token)
        try:
            verify_signature(data_path, token_path, tsa_cert)
        except OsintError as exc:
            result.timestamp_signature_failed = True
            result.problems.append(Problem("timestamp", TIMESTAMP, exc.message))
            return
    result.timestamp_signature_checked = True


def proof_lines(result: VerifyResult) -> list[str]:
    """What this check proved, and what it did not, in plain words (printed by ``osint verify``)."""
    lines = []
    if not any(p.kind in ("altered", "missing", "extra") for p in result.problems):
        lines.append(
            f"proven: every file is exactly as manifest.json lists it ({result.files_checked:,} "
            "files, read to their end: SHA-256, size and CRC), and nothing is missing or added"
        )
    if result.expected_sha256 is not None:
        if result.expected_sha256 == result.manifest_sha256:
            lines.append(
                "proven: manifest.json is the one whose SHA-256 you expected, so the bundle is "
                "the one that hash was recorded for"
            )
        else:
            lines.append("NOT proven: this manifest.json is not the one whose SHA-256 you expected")
    stamp = result.timestamp
    if stamp is not None and result.timestamp_signature_checked:
        lines.append(
            f"proven: manifest.json existed on {stamp.gen_time.isoformat()} (RFC 3161 token of "
            f"{stamp.tsa_name or 'an unnamed TSA'}, signature checked against the given "
            "certificate)"
        )
    elif stamp is not None and result.timestamp_signature_failed:
        lines.append(
            "NOT proven: when manifest.json was made: the timestamp's signature does NOT "
            "verify against the given certificate"
        )
    elif stamp is not None:
        lines.append(
            f"not proven: the token says manifest.json existed on {stamp.gen_time.isoformat()}, "
            "but its signature was not checked (pass --tsa-cert with the TSA's certificate)"
        )
    if result.expected_sha256 is None and not result.timestamp_signature_checked:
        lines.append(
            "not proven: that this manifest is the original: anyone can change a bundle and "
            "re-hash it consistently. Compare the manifest's SHA-256 with the one recorded when "
            "the bundle was made (--expect SHA256), or check its timestamp (--tsa-cert)"
        )
    return lines
