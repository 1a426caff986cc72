"""Real photographs shipped in scikit-image's wheel, and the edits re-uploaders apply to them.

Used by the image tests and by bench/hashing.py. Every transform takes and returns an RGB
PIL image; ``encode`` then saves it the way a platform would (JPEG, quality 90 by default).
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path

import skimage
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"

# Photographs and scans (not synthetic drawings). motorcycle_right is left out on purpose:
# it is the other half of a stereo pair with motorcycle_left, i.e. the same scene.
PHOTO_NAMES = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "coins",
    "hubble_deep_field",
    "motorcycle_left",
    "retina",
    "rocket",
    "moon",
    "brick",
    "grass",
    "gravel",
    "ihc",
    "cell",
    "clock_motion",
    "page",
    "text",
)
# Drawings with large flat areas: they stress border trimming and false matches.
GRAPHIC_NAMES = ("color", "logo", "phantom", "horse")

Transform = Callable[[Image.Image], Image.Image]


def load_photo(name: str) -> Image.Image:
    """One of the wheel's pictures as RGB (transparency flattened on white)."""
    path = SKIMAGE_DATA / f"{name}.png"
    if not path.exists():
        path = SKIMAGE_DATA / f"{name}.jpg"
    with Image.open(path) as opened:
        image = opened.convert("RGBA")
    flat = Image.new("RGBA", image.size, "white")
    flat.alpha_composite(image)
    return flat.convert("RGB")


def encode(image: Image.Image, quality: int = 90, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, quality=quality)
    return buffer.getvalue()


def resize(image: Image.Image, factor: float) -> Image.Image:
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.BICUBIC)


def crop(image: Image.Image, fraction: float, left_share: float, top_share: float) -> Image.Image:
    """Cut ``fraction`` of the width and of the height.

    ``left_share`` of the cut width comes off the left side (the rest off the right), and
    ``top_share`` of the cut height off the top: 0.5/0.5 is a centred crop, 0/0 keeps the
    top-left corner.
    """
    keep_w, keep_h = round(image.width * (1 - fraction)), round(image.height * (1 - fraction))
    left = round((image.width - keep_w) * left_share)
    top = round((image.height - keep_h) * top_share)
    return image.crop((left, top, left + keep_w, top + keep_h))


def letterbox(image: Image.Image, fraction: float = 0.15, colour: str = "black") -> Image.Image:
    """Bars of ``fraction`` of the height above and below (as when fitting 16:9 frames)."""
    bar = round(image.height * fraction)
    framed = Image.new("RGB", (image.width, image.height + 2 * bar), colour)
    framed.paste(image, (0, bar))
    return framed


def pillarbox(image: Image.Image, fraction: float = 0.15, colour: str = "white") -> Image.Image:
    bar = round(image.width * fraction)
    framed = Image.new("RGB", (image.width + 2 * bar, image.height), colour)
    framed.paste(image, (bar, 0))
    return framed


def caption(image: Image.Image, text: str = "THEY DON'T WANT YOU TO SEE THIS") -> Image.Image:
    """Meme-style caption: bold white text with a black outline over the bottom of the picture."""
    captioned = image.copy()
    draw = ImageDraw.Draw(captioned)
    size = max(10, image.height // 12)
    font = ImageFont.load_default(size=size)
    while draw.textlength(text, font=font) > image.width * 0.95 and size > 8:
        size -= 2
        font = ImageFont.load_default(size=size)
    width = draw.textlength(text, font=font)
    position = ((image.width - width) / 2, image.height - 2.2 * size)
    draw.text(
        position,
        text,
        font=font,
        fill="white",
        stroke_width=max(1, size // 10),
        stroke_fill="black",
    )
    return captioned


def rotate(image: Image.Image, degrees: float = 5.0) -> Image.Image:
    """Rotate about the centre, same frame size, corners filled with black."""
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False)


def brighten(image: Image.Image, factor: float = 1.3) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(factor)


def mirror(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def crop_shares(seed: int, count: int = 5) -> list[tuple[float, float]]:
    """Where crops cut: a centred one, a corner one, and random splits (seeded)."""
    rng = random.Random(seed)
    shares = [(0.5, 0.5), (0.0, 1.0)]
    shares += [(rng.random(), rng.random()) for _ in range(count - len(shares))]
    return shares


def derived_copies(image: Image.Image, seed: int = 0) -> dict[str, list[bytes]]:
    """Every transform of the quality table, encoded; crops at several seeded positions."""
    shares = crop_shares(seed)
    return {
        "recompress_q30": [encode(image, quality=30)],
        "resize_25": [encode(resize(image, 0.25))],
        "resize_50": [encode(resize(image, 0.5))],
        "caption": [encode(caption(image))],
        "mirror": [encode(mirror(image))],
        "letterbox_15": [encode(letterbox(image)), encode(pillarbox(image))],
        "brightness": [encode(brighten(image))],
        "crop_10": [encode(crop(image, 0.10, *share)) for share in shares],
        "crop_25": [encode(crop(image, 0.25, *share)) for share in shares],
        "rotate_5": [encode(rotate(image))],
    }
