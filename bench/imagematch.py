"""Cost of the local-feature stage (analyzers.localmatch) against global hashing, same run.

Images: every scikit-image photo of osint/synth/photos.PHOTO_NAMES with its issue-20 edits
(seed 7), as JPEG bytes. Baseline: ``hash_image`` (all global hashes) of the same images in this
process. Measured: feature extraction per image, index build + query per image, and verification
per candidate pair; the 100k-image figure extrapolates per-image feature and query time (the
index query is approximate, FLANN LSH, so it grows slowly with the index). Run:
``python -m bench imagematch``.
"""

from __future__ import annotations

import time

from osint.analyzers import localmatch
from osint.analyzers.images import hash_image
from osint.synth import photos

SEED = 7


def _images() -> list[bytes]:
    found = []
    for name in photos.PHOTO_NAMES:
        image = photos.load_photo(name)
        found.append(photos.encode(image))
        found += [d for copies in photos.local_copies(image, SEED).values() for d in copies]
    return found


def run() -> str:
    images = _images()
    started = time.perf_counter()
    for data in images:
        hash_image(data)
    per_hash = (time.perf_counter() - started) / len(images)
    started = time.perf_counter()
    outcomes = [localmatch.extract_features(i, data) for i, data in enumerate(images)]
    per_features = (time.perf_counter() - started) / len(images)
    features = {o.media_id: o.features for o in outcomes if o.features is not None}
    started = time.perf_counter()
    index = localmatch.FeatureIndex(features.values())
    pairs = {tuple(sorted((m, o))) for m, f in features.items() for o in index.candidates(f)}
    per_query = (time.perf_counter() - started) / len(features)
    started = time.perf_counter()
    for a, b in pairs:
        localmatch.verify_pair(features[a], features[b])
    per_pair = (time.perf_counter() - started) / max(len(pairs), 1)
    per_image = per_features + per_query + per_pair * len(pairs) / len(features)
    print(f"   {len(images)} images, {len(pairs)} candidate pairs")
    print(f"   global hashing  {per_hash * 1000:7.1f} ms/image")
    print(f"   local features  {per_features * 1000:7.1f} ms/image")
    print(f"   index query     {per_query * 1000:7.1f} ms/image (build included)")
    print(f"   verification    {per_pair * 1000:7.1f} ms/candidate pair")
    print(f"   100k images, every one local: ~{per_image * 1e5 / 3600:.1f} h on one core")
    return (
        f"imagematch: {per_image * 1000:.1f} ms/image local stage "
        f"({per_image / per_hash:.1f}x global hashing)"
    )
