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
    kind: str  # missing | extra | altered | unreadable | timestamp
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
    path: Path, zf: zipfile.ZipFile, limits: VerifyLimits
) -> tuple[bytes, dict[str, Any]]:
    try:
        info = zf.getinfo(MANIFEST)
    except KeyError:
        raise VerifyError(f"{path} has no {MANIFEST}: not an osint evidence bundle") from None
    if info.file_size > limits.max_manifest_bytes:
        raise _refuse(path, f"{MANIFEST} is {info.file_size:,} bytes")
    try:
        data = zf.read(info)
        manifest = json.loads(data)
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError) as exc:
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
            raise VerifyError(f"{MANIFEST} in {path} has a bad entry: {str(entry)[:200]}")
        seen.add(entry["path"])
    return data, manifest


def _hash_stored(fd: int, info: zipfile.ZipInfo) -> tuple[int, str]:
    """SHA-256 of a stored member, read straight from the file (its CRC adds nothing to it)."""
    header = os.pread(fd, _LOCAL_HEADER, info.header_offset)
    if len(header) < _LOCAL_HEADER or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local file header")
    name_len = int.from_bytes(header[26:28], "little")
    extra_len = int.from_bytes(header[28:30], "little")
    name = os.pread(fd, name_len, info.header_offset + _LOCAL_HEADER)
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    if name != info.orig_filename.encode(encoding):
        raise zipfile.BadZipFile("name in the local header differs from the directory")
    offset = info.header_offset + _LOCAL_HEADER + name_len + extra_len
    digest = hashlib.sha256()
    left = info.compress_size
    while left > 0:
        data = os.pread(fd, min(CHUNK, left), offset)
        if not data:
            raise zipfile.BadZipFile("member is truncated")
        digest.update(data)
        offset += len(data)
        left -= len(data)
    return info.compress_size, digest.hexdigest()


def _hash_compressed(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with zf.open(info) as member:
        while chunk := member.read(CHUNK):
            size += len(chunk)
            if size > info.file_size:
                raise zipfile.BadZipFile("member is longer than declared")
            digest.update(chunk)
    return size, digest.hexdigest()


def _check_entry(
    zf: zipfile.ZipFile, fd: int, infos: dict[str, zipfile.ZipInfo], entry: dict[str, Any]
) -> tuple[int, Problem | None]:
    name = entry["path"]
    info = infos.get(name)
    if info is None:
        return 0, Problem("missing", name, "listed in the manifest but not in the bundle")
    try:
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != info.file_size:
                raise zipfile.BadZipFile("stored member with two different sizes")
            size, sha = _hash_stored(fd, info)
        else:
            size, sha = _hash_compressed(zf, info)
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
    limits: VerifyLimits | None = None,
    workers: int = 2,
) -> VerifyResult:
    """Check a bundle; the result lists every problem (``ok`` when there is none).

    Raises VerifyError when the file cannot be checked at all (not a zip, no manifest, unsafe).
    """
    limits = limits or VerifyLimits()
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
        manifest_bytes, manifest = _read_manifest(path, zf, limits)
        result = VerifyResult(
            path=path,
            manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
            case=str(manifest.get("case", "")),
            created_at=str(manifest.get("created_at", "")),
            omitted=list(manifest.get("omitted") or []),
        )
        by_name = {i.orig_filename: i for i in infos if not i.is_dir()}
        entries = sorted(manifest["files"], key=lambda e: -e["size"])
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            checks = pool.map(lambda e: _check_entry(zf, raw.fileno(), by_name, e), entries)
            for size, problem in checks:
                result.bytes_checked += size
                result.files_checked += 1
                if problem:
                    result.problems.append(problem)
        listed = {e["path"] for e in manifest["files"]} | {MANIFEST, TIMESTAMP}
        for name in sorted(set(by_name) - listed):
            result.problems.append(Problem("extra", name, "in the bundle but not in the manifest"))
        _check_timestamp(zf, by_name, manifest_bytes, tsa_cert, result)
    result.problems.sort(key=lambda p: (p.path, p.kind))
    return result


def _check_timestamp(
    zf: zipfile.ZipFile,
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
    token = zf.read(info)
    try:
        result.timestamp = check_response(token, manifest_bytes)
        if tsa_cert is not None:
            with tempfile.TemporaryDirectory(prefix="osint-verify-") as tmp:
                data_path, token_path = Path(tmp, MANIFEST), Path(tmp, TIMESTAMP)
                data_path.write_bytes(manifest_bytes)
                token_path.write_bytes(token)
                verify_signature(data_path, token_path, tsa_cert)
            result.timestamp_signature_checked = True
    except OsintError as exc:
        result.problems.append(Problem("timestamp", TIMESTAMP, exc.message))
