"""Synthetic pictures for the demo world, drawn with Pillow from a seed: nothing real, nothing graphic.

``scene`` draws a desert landscape (the "staged site" pictures use fresh mounds of earth and small
figures with vehicles); ``snapshot`` draws an everyday picture (market stall, street, sky, food
plate) for organic accounts; ``portrait`` draws a stylised head-and-shoulders avatar. The same seed
always gives the same bytes. ``derive`` applies the transformations re-uploaders use
(recompression, resizing, cropping, caption overlays, mirroring, tinting, letterboxing).
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

Colour = tuple[int, int, int]
# A 3x3 binomial blur: the softness of a camera lens at a third of the cost of GaussianBlur.
SOFTEN = ImageFilter.Kernel((3, 3), [1, 2, 1, 2, 4, 2, 1, 2, 1])


def _jpeg(img: Image.Image, quality: int = 88) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _jitter(rng: random.Random, colour: Colour, amount: int = 18) -> Colour:
    r, g, b = (max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)
    return (r, g, b)


def _gradient(size: tuple[int, int], top: Colour, bottom: Colour) -> Image.Image:
    # Coloured as one column, then widened: the same picture as colouring every pixel.
    column = ImageOps.colorize(Image.linear_gradient("L").resize((1, size[1])), top, bottom)
    return column.resize(size, Image.Resampling.NEAREST)


def _texture(img: Image.Image, rng: random.Random, strength: int = 40) -> Image.Image:
    """Fine grain, like a camera sensor, so recompression behaves as on photographs."""
    noise = Image.frombytes("L", img.size, rng.randbytes(img.width * img.height)).convert("RGB")
    return Image.blend(img, noise, strength / 1000)


def scene(seed: int, *, size: tuple[int, int] = (960, 640), staged: bool = True) -> bytes:
    rng = random.Random(seed)
    w, h = size
    horizon = int(h * rng.uniform(0.35, 0.5))
    img = _gradient(size, _jitter(rng, (120, 170, 215)), _jitter(rng, (225, 215, 190)))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, horizon, w, h], fill=_jitter(rng, (200, 160, 105)))
    for _ in range(rng.randint(3, 6)):  # dunes
        x0 = rng.randint(-w // 3, w)
        width = rng.randint(w // 4, w // 2)
        peak = horizon - rng.randint(10, 70)
        draw.polygon(
            [(x0, horizon + 5), (x0 + width // 2, peak), (x0 + width, horizon + 5)],
            fill=_jitter(rng, (190, 150, 95), 25),
        )
    for _ in range(rng.randint(2, 5)):  # acacia trees
        x, y = rng.randint(0, w), horizon + rng.randint(-10, 40)
        draw.line([(x, y), (x, y - rng.randint(30, 70))], fill=(80, 60, 40), width=5)
        r = rng.randint(25, 55)
        draw.ellipse(
            [x - 2 * r, y - 70 - r // 2, x + 2 * r, y - 70 + r // 2],
            fill=_jitter(rng, (85, 110, 55), 20),
        )
    if staged:
        for _ in range(rng.randint(4, 7)):  # fresh mounds of earth
            x, y = rng.randint(40, w - 160), rng.randint(horizon + 60, h - 60)
            mw, mh = rng.randint(80, 150), rng.randint(25, 45)
            draw.ellipse([x, y, x + mw, y + mh], fill=_jitter(rng, (120, 85, 55), 15))
            draw.ellipse(
                [x + 8, y + 6, x + mw - 8, y + mh - 8], fill=_jitter(rng, (95, 65, 40), 10)
            )
        for _ in range(rng.randint(3, 6)):  # small figures
            x, y = rng.randint(20, w - 20), rng.randint(horizon + 40, h - 40)
            colour = _jitter(rng, (70, 80, 60), 25)
            draw.ellipse([x - 6, y - 40, x + 6, y - 28], fill=(60, 45, 35))
            draw.rectangle([x - 8, y - 28, x + 8, y], fill=colour)
        x, y = rng.randint(0, w - 220), horizon + rng.randint(5, 40)  # a vehicle
        draw.rectangle([x, y, x + 200, y + 60], fill=_jitter(rng, (90, 95, 70), 15))
        draw.rectangle([x + 140, y - 30, x + 200, y], fill=_jitter(rng, (90, 95, 70), 15))
        for wx in (x + 30, x + 160):
            draw.ellipse([wx - 18, y + 45, wx + 18, y + 80], fill=(30, 30, 30))
    return _jpeg(_texture(img.filter(SOFTEN), rng))


def snapshot(seed: int, *, size: tuple[int, int] = (800, 600)) -> bytes:
    """An everyday picture: random layout, palette and subject, so unrelated seeds look unrelated."""
    rng = random.Random(seed)
    return _jpeg(_texture(_snapshot_image(rng, size), rng))


def _snapshot_image(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    w, h = size
    base = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
    img = _gradient(size, base, _jitter(rng, tuple(255 - c for c in base), 60))  # type: ignore[arg-type]
    draw = ImageDraw.Draw(img)
    shapes: list[Callable[[list[int], Colour], None]] = [
        lambda box, c: draw.ellipse(box, fill=c),
        lambda box, c: draw.rectangle(box, fill=c),
        lambda box, c: draw.polygon(
            [(box[0], box[3]), ((box[0] + box[2]) // 2, box[1]), (box[2], box[3])], fill=c
        ),
    ]
    for _ in range(rng.randint(25, 60)):
        x, y = rng.randint(-50, w), rng.randint(-50, h)
        sw, sh = rng.randint(15, w // 2), rng.randint(15, h // 2)
        colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        rng.choice(shapes)([x, y, x + sw, y + sh], colour)
    return img.filter(SOFTEN)


def portrait(seed: int, *, size: int = 400) -> bytes:
    """A stylised head and shoulders in front of a busy background, different for every seed."""
    rng = random.Random(seed)
    img = _snapshot_image(random.Random(seed + 7919), (size, size)).filter(ImageFilter.BoxBlur(2))
    draw = ImageDraw.Draw(img)
    skin = rng.choice([(95, 60, 40), (140, 95, 65), (200, 160, 120), (230, 195, 160)])
    scale = rng.uniform(0.7, 1.15)
    cx = int(size * rng.uniform(0.3, 0.7))
    cy = int(size * rng.uniform(0.32, 0.5))
    hw, hh = int(80 * scale), int(100 * scale)
    body = _jitter(rng, (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)), 30)
    draw.ellipse([cx - 2 * hw, cy + hh - 10, cx + 2 * hw, cy + 4 * hh], fill=body)
    draw.ellipse([cx - hw, cy - hh, cx + hw, cy + hh], fill=skin)
    hair = _jitter(rng, (30, 25, 20), 20)
    draw.chord([cx - hw - 5, cy - hh - 10, cx + hw + 5, cy + hh // 3], 180, 360, fill=hair)
    for ex in (cx - hw * 2 // 5, cx + hw * 2 // 5):
        draw.ellipse([ex - 10, cy - 10, ex + 10, cy + 6], fill=(250, 250, 250))
        draw.ellipse([ex - 5, cy - 6, ex + 5, cy + 4], fill=(20, 20, 20))
    draw.arc(
        [cx - 35, cy + hh // 4, cx + 35, cy + hh * 3 // 5], 20, 160, fill=(90, 40, 40), width=4
    )
    return _jpeg(_texture(img.filter(SOFTEN), rng))


# -- transformations re-uploaders apply ---------------------------------------------------------
def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def recompress(data: bytes, quality: int = 40) -> bytes:
    return _jpeg(_open(data), quality)


def resize(data: bytes, factor: float = 0.5) -> bytes:
    img = _open(data)
    return _jpeg(
        img.resize((int(img.width * factor), int(img.height * factor)), Image.Resampling.LANCZOS),
        80,
    )


def crop(data: bytes, fraction: float = 0.1) -> bytes:
    img = _open(data)
    dx, dy = int(img.width * fraction / 2), int(img.height * fraction / 2)
    return _jpeg(img.crop((dx, dy, img.width - dx, img.height - dy)), 85)


def caption(data: bytes, text: str) -> bytes:
    img = _open(data)
    draw = ImageDraw.Draw(img)
    band = img.height // 9
    draw.rectangle([0, img.height - band, img.width, img.height], fill=(0, 0, 0))
    font = ImageFont.load_default(size=max(12, band // 2))
    draw.text((12, img.height - band + band // 4), text, fill=(255, 255, 255), font=font)
    return _jpeg(img, 85)


def mirror(data: bytes) -> bytes:
    return _jpeg(ImageOps.mirror(_open(data)), 88)


def tint(data: bytes, factor: float = 1.25) -> bytes:
    return _jpeg(ImageEnhance.Color(_open(data)).enhance(factor), 88)


def letterbox(data: bytes, fraction: float = 0.15) -> bytes:
    img = _open(data)
    pad = int(img.height * fraction / 2)
    out = Image.new("RGB", (img.width, img.height + 2 * pad), (0, 0, 0))
    out.paste(img, (0, pad))
    return _jpeg(out, 85)
