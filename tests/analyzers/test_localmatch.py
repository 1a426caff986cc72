"""Bad input for local features: a note per image, never an exception."""

from __future__ import annotations

import io

import cv2
from PIL import Image

from osint.analyzers import localmatch
from osint.synth import photos


def test_too_small_image_gets_a_note() -> None:
    data = photos.encode(photos.load_photo("camera").resize((20, 16)))
    outcome = localmatch.extract_features(1, data)
    assert outcome.features is None and "too small" in outcome.note


def test_flat_image_gets_a_note() -> None:
    outcome = localmatch.extract_features(1, photos.encode(Image.new("RGB", (400, 300), "grey")))
    assert outcome.features is None and "too flat" in outcome.note


def test_huge_image_is_downscaled_before_features() -> None:
    big = photos.load_photo("astronaut").resize((4000, 4000))
    outcome = localmatch.extract_features(1, photos.encode(big, quality=70))
    assert outcome.features is not None
    assert outcome.features.points[:, 0].max() <= localmatch.MAX_SIDE
    assert outcome.features.width == 4000 and "large" in outcome.note
    small = localmatch.extract_features(2, photos.encode(photos.load_photo("astronaut")))
    assert small.features is not None
    match = localmatch.verify_pair(small.features, outcome.features)
    assert match is not None and abs(match.scale - 4000 / 512) < 0.2


def test_animated_image_uses_first_frame_and_says_so() -> None:
    frames = [photos.load_photo("chelsea"), photos.load_photo("coffee")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    outcome = localmatch.extract_features(1, buffer.getvalue())
    assert outcome.features is not None and "animated (2 frames)" in outcome.note
    first = localmatch.extract_features(2, photos.encode(frames[0])).features
    assert first is not None
    match = localmatch.verify_pair(first, outcome.features)
    assert match is not None and match.relation == "same_picture"


def test_undecodable_bytes_get_a_note() -> None:
    outcome = localmatch.extract_features(1, b"not an image at all")
    assert outcome.features is None and "not decodable" in outcome.note


def test_usac_assertion_on_degenerate_points_is_no_match(monkeypatch) -> None:
    # OpenCV's USAC asserts (cv2.error) on some degenerate point sets met in bench imagematch;
    # that is "no geometry", not a crash of the analysis.
    def fail(*args, **kwargs):
        raise cv2.error("!model.empty()")

    image = photos.encode(photos.load_photo("astronaut"))
    features = localmatch.extract_features(1, image).features
    assert features is not None
    monkeypatch.setattr(cv2, "findHomography", fail)
    assert localmatch.verify_pair(features, features) is None
