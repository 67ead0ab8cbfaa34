"""Procedural test pictures: gradients and shapes, deterministic, with real structure."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def generated_picture(width: int = 480, height: int = 320) -> Image.Image:
    """An RGB picture with smooth gradients and hard-edged shapes (PDQ quality 100)."""
    x = np.linspace(0.0, 1.0, width)[np.newaxis, :]
    y = np.linspace(0.0, 1.0, height)[:, np.newaxis]
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[..., 0] = np.rint(255 * x * np.ones_like(y))
    pixels[..., 1] = np.rint(255 * y * np.ones_like(x))
    pixels[..., 2] = np.rint(255 * (1 - x) * y)
    picture = Image.fromarray(pixels)
    draw = ImageDraw.Draw(picture)
    draw.ellipse((30, 30, 190, 190), fill=(230, 40, 30))
    draw.rectangle((240, 50, 440, 220), fill=(20, 40, 190))
    draw.polygon([(60, 300), (230, 200), (330, 310)], fill=(250, 240, 50))
    draw.line((0, 250, width, 120), fill=(255, 255, 255), width=9)
    return picture


def silhouette(background: tuple[int, int, int, int]) -> Image.Image:
    """A dark emblem on ``background``: with alpha 0 it is a logo on a transparent canvas."""
    emblem = Image.new("RGBA", (300, 300), background)
    draw = ImageDraw.Draw(emblem)
    draw.ellipse((40, 40, 260, 260), fill=(10, 10, 10, 255))
    draw.rectangle((120, 20, 180, 280), fill=(200, 20, 20, 255))
    draw.polygon([(20, 280), (150, 150), (80, 290)], fill=(10, 10, 10, 255))
    return emblem
