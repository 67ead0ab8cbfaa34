"""Procedural sample images and the edits re-uploads typically get.

Used by ``make demo``, the tests and the benchmarks: real pictures with structure (shapes,
gradients, text), never noise, because perceptual hashes of noise behave nothing like those of
real content. Deterministic for a given seed.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageEnhance, ImageFont

SIZE = (640, 480)


def generate(seed: int, size: tuple[int, int] = SIZE) -> Image.Image:
    """A varied RGB picture: a two-colour gradient, overlapping shapes and a line of text."""
    rng = random.Random(seed)
    width, height = size
    top = _colour(rng)
    bottom = _colour(rng)
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / max(1, height - 1)
        draw.line(
            [(0, y), (width, y)],
            fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    for _ in range(rng.randint(4, 9)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = min(width, x0 + rng.randint(width // 10, width // 2))
        y1 = min(height, y0 + rng.randint(height // 10, height // 2))
        shape = rng.choice(("rect", "ellipse", "polygon", "line"))
        fill = _colour(rng)
        if shape == "rect":
            draw.rectangle([x0, y0, x1, y1], fill=fill)
        elif shape == "ellipse":
            draw.ellipse([x0, y0, x1, y1], fill=fill)
        elif shape == "polygon":
            points = [(rng.randrange(width), rng.randrange(height)) for _ in range(3)]
            draw.polygon(points, fill=fill)
        else:
            draw.line([x0, y0, x1, y1], fill=fill, width=rng.randint(4, 16))
    font = ImageFont.load_default(size=max(12, height // 10))
    draw.text(
        (rng.randrange(width // 2), rng.randrange(height // 2)),
        f"sample {seed}",
        fill=_colour(rng),
        font=font,
    )
    return image


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def resized(image: Image.Image, factor: float = 0.5) -> Image.Image:
    w, h = image.size
    return image.resize(
        (max(1, round(w * factor)), max(1, round(h * factor))), Image.Resampling.LANCZOS
    )


def recompressed(image: Image.Image, quality: int = 40) -> Image.Image:
    return Image.open(io.BytesIO(jpeg_bytes(image, quality))).convert("RGB")


def cropped(image: Image.Image, fraction: float = 0.02) -> Image.Image:
    # PDQ itself is not crop-tolerant (2% a side already moves it 20-60 bits); such copies are
    # caught by pHash/dHash, which is why an ADD carries every signal type.
    w, h = image.size
    dx, dy = round(w * fraction), round(h * fraction)
    return image.crop((dx, dy, w - dx, h - dy))


def colour_shifted(image: Image.Image) -> Image.Image:
    warmer = ImageEnhance.Color(image).enhance(1.4)
    return ImageEnhance.Brightness(warmer).enhance(1.1)


TRANSFORMS = {
    "resized 50%": resized,
    "JPEG quality 40": recompressed,
    "cropped 2% a side": cropped,
    "colour-shifted": colour_shifted,
}
