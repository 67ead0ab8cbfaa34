"""Protocol step 2: turn a decoded image of any Pillow mode into the RGB image that is hashed.

Every node must produce the same RGB pixels from the same file, so each choice below is part of
the protocol (changing one changes hashes):

- RGB is used as is; 1, L, P, CMYK, YCbCr, HSV and the rest go through Pillow's ``convert``,
  which does the textbook colour conversion for each.
- LAB goes through LittleCMS (``ImageCms``: built-in CIE Lab D50 profile -> sRGB, perceptual
  intent), a real colorimetric conversion; a plain channel copy would give unrelated colours.
  Pillow's own ``convert`` routes LAB the same way since 9.4; spelling it out keeps the
  protocol independent of how a Pillow release routes conversions.
- Transparency (alpha in LA, PA, RGBA, RGBa, La; a palette or colour-key ``transparency``) is
  composited onto opaque white. Hashing what a viewer sees closes an evasion route: with alpha
  dropped, the hidden colour of fully transparent pixels could be changed freely to move the
  hash. White because uploads are mostly shown on light pages, and dark logos and text on a
  transparent background (common in the content we hash) would vanish on black. Opaque alpha
  gives exactly the same pixels as dropping it, so hashes of ordinary images agree with the
  reference tools; only images with real transparency can differ from them (those tools read
  the hidden colours, whose values depend on the encoder).
- I and F (and I;16*) carry no declared range: Pillow loads 8-bit, 16-bit and 32-bit samples
  into the same mode. Their actual minimum..maximum is stretched linearly onto 0..255 as grey.
  PDQ, pHash and dHash compare values against each other, so a positive linear change of
  brightness does not move them beyond rounding, whatever the source bit depth was.
- Embedded ICC profiles and gamma chunks are ignored, as the reference PDQ tools do.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageCms

_WHITE = (255, 255, 255, 255)


def to_rgb(image: Image.Image) -> Image.Image:
    """Return ``image`` as RGB by the protocol rules above (the same object if already RGB)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I", "F") or mode.startswith("I;"):
        return _stretch_to_grey(image).convert("RGB")
    if mode == "LAB":
        return _lab_to_rgb(image)
    if image.has_transparency_data:
        return _composite_on_white(image)
    return image.convert("RGB")


def _stretch_to_grey(image: Image.Image) -> Image.Image:
    # float32 halves the memory of float64 and is exact enough for an 8-bit result.
    samples = np.asarray(image, dtype=np.float32)
    finite = np.isfinite(samples)
    if not finite.all():
        # NaN or infinity in a float image has no brightness; treat it as the darkest value.
        low = float(samples[finite].min()) if finite.any() else 0.0
        samples = np.where(finite, samples, low)
    low, high = float(samples.min()), float(samples.max())
    if high <= low:
        grey = np.zeros(samples.shape, dtype=np.uint8)
    else:
        grey = np.rint((samples - low) * (255.0 / (high - low))).astype(np.uint8)
    return Image.fromarray(grey)


def _lab_to_rgb(image: Image.Image) -> Image.Image:
    transform = ImageCms.buildTransform(
        ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
    )
    converted = ImageCms.applyTransform(image, transform)
    # applyTransform returns None only when asked to work in place, which we never do.
    assert converted is not None
    return converted


def _composite_on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, _WHITE)
    return Image.alpha_composite(background, rgba).convert("RGB")
