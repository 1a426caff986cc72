"""Image hashing throughput: our batch hasher against plain ``imagehash.phash(Image.open(p))``.

216 JPEGs of 1-3 MP are generated from the real photographs in scikit-image's wheel (random
crops, flips, brightness, JPEG quality 70-95) into a temp dir. The baseline hashes them one
by one in this process; ours runs ``analyzers.imagebatch.BatchHasher`` on 2 processes, started
before the clock (all variants: pHash, dHash, mirrors, trims, 51 sub-window hashes, EXIF), and
``hash_image`` in this process for the per-core gain. Every pHash must be within 4 bits of the
baseline's. Run: ``python -m bench hashing``.
"""

from __future__ import annotations

import random
import resource
import tempfile
import time
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageEnhance
from threadpoolctl import threadpool_limits

from osint.analyzers.imagebatch import BatchHasher
from osint.analyzers.images import HashRecord, hash_image
from osint.synth import photos

IMAGES_PER_PHOTO = 12
ROUNDS = 4
SLICES = 2


def make_jpegs(folder: Path, seed: int = 1) -> list[Path]:
    """1-3 MP JPEGs derived from the real photos (deterministic)."""
    rng = random.Random(seed)
    paths = []
    for name in photos.PHOTO_NAMES:
        base = photos.load_photo(name)
        for number in range(IMAGES_PER_PHOTO):
            image = photos.crop(base, rng.uniform(0, 0.15), rng.random(), rng.random())
            if rng.random() < 0.3:
                image = photos.mirror(image)
            image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.8, 1.2))
            scale = (rng.uniform(1.0e6, 3.0e6) / (image.width * image.height)) ** 0.5
            size = (int(image.width * scale), int(image.height * scale))
            path = folder / f"{name}_{number:02d}.jpg"
            image.resize(size, Image.Resampling.BICUBIC).save(path, quality=rng.randint(70, 95))
            paths.append(path)
    return paths


def _worker_pids(hasher: BatchHasher) -> list[int]:
    pool = hasher._pool  # bench-only peek at the executor's processes
    return list(pool._processes) if pool is not None and pool._processes else []


def _peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a live process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _megapixels(path: Path) -> float:
    with Image.open(path) as image:
        return image.width * image.height / 1e6


def _baseline(paths: list[Path]) -> tuple[list[int], float]:
    started = time.perf_counter()
    hashes = [int(str(imagehash.phash(Image.open(path))), 16) for path in paths]
    return hashes, time.perf_counter() - started


def _ours(hasher: BatchHasher, paths: list[Path]) -> tuple[dict[int, HashRecord], float]:
    started = time.perf_counter()
    records = dict(hasher.hash(enumerate(paths)))
    return records, time.perf_counter() - started


def _serial(paths: list[Path]) -> float:
    started = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        for path in paths:
            hash_image(path)
    return time.perf_counter() - started


def run() -> str:
    """Both sides timed on the same slices, alternately, ROUNDS times; each keeps its best time
    per slice. The machine is shared and its load comes in bursts: this compares the two at
    their best rather than whoever ran during a burst."""
    with tempfile.TemporaryDirectory() as folder:
        paths = make_jpegs(Path(folder))
        megapixels = [_megapixels(path) for path in paths]
        slices = [paths[i::SLICES] for i in range(SLICES)]
        baseline_best = [float("inf")] * SLICES
        ours_best = [float("inf")] * SLICES
        serial_best = [float("inf")] * SLICES
        baseline: dict[Path, int] = {}
        records: dict[Path, HashRecord] = {}
        with BatchHasher(workers=2, chunk_size=8) as hasher:
            list(hasher.hash(enumerate(paths[:32])))  # start both workers before timing
            for _ in range(ROUNDS):
                for number, chunk in enumerate(slices):
                    hashes, seconds = _baseline(chunk)
                    baseline |= dict(zip(chunk, hashes, strict=True))
                    baseline_best[number] = min(baseline_best[number], seconds)
                    found, seconds = _ours(hasher, chunk)
                    records |= {chunk[key]: record for key, record in found.items()}
                    ours_best[number] = min(ours_best[number], seconds)
                    serial_best[number] = min(serial_best[number], _serial(chunk))
            worker_peak = max(_peak_rss_mb(pid) for pid in _worker_pids(hasher))
    baseline_rate, rate = len(paths) / sum(baseline_best), len(paths) / sum(ours_best)
    serial_rate = len(paths) / sum(serial_best)
    deviations = np.array(
        [(baseline[p] ^ int(records[p].hashes[("phash", "orig")], 16)).bit_count() for p in paths]
    )
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{len(paths)} JPEGs, {min(megapixels):.1f}-{max(megapixels):.1f} MP; best of {ROUNDS} "
        f"alternating runs per slice of {len(slices[0])}"
    )
    print(f"baseline imagehash.phash(Image.open(p)), 1 process: {baseline_rate:.0f} images/s")
    print(
        f"osint hash_image, 1 process, all variants: {serial_rate:.0f} images/s "
        f"({serial_rate / baseline_rate:.1f}x: the per-core gain)"
    )
    print(f"osint BatchHasher, 2 processes, all variants: {rate:.0f} images/s")
    print(
        f"pHash vs baseline: max {deviations.max()} bits, p95 {np.percentile(deviations, 95):.0f}, "
        f"all within 4: {bool((deviations <= 4).all())}"
    )
    print(f"peak RSS: main {main_peak:.0f} MB, largest worker {worker_peak:.0f} MB")
    line = (
        f"hashing: {rate:.0f} images/s ({rate / baseline_rate:.1f}x imagehash.phash(Image.open(p)))"
    )
    print(line)
    return line


if __name__ == "__main__":
    run()
