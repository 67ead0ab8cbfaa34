"""Every Pillow mode becomes the same RGB picture for hashing (protocol step: node.hashing.rgb)."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from node.hashing import ComputedSignal, ImageHasher, get_signal_type, hash_media, load_image
from tests.unit.hashing.pictures import generated_picture, silhouette
from tests.unit.hashing.vector_cases import hashed, mode_files

_pdq = get_signal_type("pdq")
assert isinstance(_pdq, ImageHasher)
PDQ: ImageHasher = _pdq
MODE_TOLERANCE = 10
ALL_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "I", "F", "HSV", "LAB")


def pdq_of(image: Image.Image) -> ComputedSignal:
    return PDQ.hash_image(image)


def pdq_distance(a: ComputedSignal, b: ComputedSignal) -> int:
    return PDQ.distance(a.signal.value, b.signal.value)


@cache
def picture_and_hash() -> tuple[Image.Image, ComputedSignal]:
    picture = generated_picture()
    return picture, pdq_of(picture)


def encoded(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("file_name", mode_files())
def test_mode_file_hashes_near_rgb_version(vectors_dir: Path, file_name: str | None) -> None:
    assert file_name is not None
    rgb = hashed(vectors_dir, "misc-images/modes/RGB.jpg")["pdq"]
    this = hashed(vectors_dir, f"misc-images/modes/{file_name}")["pdq"]
    assert pdq_distance(this, rgb) <= MODE_TOLERANCE


def test_generated_picture_has_structure() -> None:
    _, rgb = picture_and_hash()
    assert rgb.quality == 100


@pytest.mark.parametrize("mode", ALL_MODES)
def test_in_memory_mode_hashes_near_rgb_version(mode: str) -> None:
    picture, rgb = picture_and_hash()
    converted = picture.convert(mode)
    assert converted.mode == mode
    assert pdq_distance(pdq_of(converted), rgb) <= MODE_TOLERANCE


def test_sixteen_bit_greyscale_file_hashes_like_eight_bit() -> None:
    grey = generated_picture().convert("L")
    wide = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)
    data = encoded(wide, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    loaded = load_image(data, name="deep.png")
    assert loaded.mode == "RGB"
    assert pdq_distance(pdq_of(loaded), pdq_of(grey)) <= 2


def test_float_image_in_unit_range_hashes_like_eight_bit() -> None:
    grey = generated_picture().convert("L")
    unit = Image.fromarray(np.asarray(grey).astype(np.float32) / 255.0)
    assert unit.mode == "F"
    assert pdq_distance(pdq_of(unit), pdq_of(grey)) <= 2


def test_constant_and_non_finite_float_images_hash_without_error() -> None:
    flat = Image.new("F", (64, 64), 7.5)
    assert pdq_of(flat).quality == 0
    holes = np.asarray(generated_picture().convert("F")).copy()
    holes[::7, ::5] = np.nan
    holes[3, 3] = np.inf
    assert pdq_of(Image.fromarray(holes)).quality == 100


def test_transparency_is_composited_on_white() -> None:
    logo = silhouette(background=(0, 0, 0, 0))
    on_white = silhouette(background=(255, 255, 255, 255)).convert("RGB")
    assert pdq_of(logo) == pdq_of(on_white)


def test_colour_hidden_under_full_transparency_does_not_move_the_hash() -> None:
    hidden = np.asarray(silhouette(background=(0, 0, 0, 0))).copy()
    transparent = hidden[..., 3] == 0
    hidden[transparent, :3] = np.random.default_rng(7).integers(0, 256, (transparent.sum(), 3))
    assert pdq_of(Image.fromarray(hidden)) == pdq_of(silhouette(background=(0, 0, 0, 0)))


def test_palette_transparency_from_a_png_file_is_composited() -> None:
    logo = silhouette(background=(0, 0, 0, 0))
    data = encoded(logo.convert("P", palette=Image.Palette.ADAPTIVE), "PNG", transparency=0)
    loaded = load_image(data, name="logo.png")
    assert loaded.mode == "RGB"
    assert loaded.getpixel((1, 1)) == (255, 255, 255)


def test_exif_orientation_is_not_applied() -> None:
    picture, _ = picture_and_hash()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    plain = hash_media(encoded(picture, "JPEG", quality=95), name="a.jpg")
    tagged_data = encoded(picture, "JPEG", quality=95, exif=exif.tobytes())
    tagged = hash_media(tagged_data, name="b.jpg")
    assert load_image(tagged_data).size == picture.size
    assert [c.signal for c in plain[2:]] == [c.signal for c in tagged[2:]]


def test_animated_gif_is_hashed_by_its_first_frame() -> None:
    first = generated_picture()
    second = first.transpose(Image.Transpose.ROTATE_180)
    animated = encoded(first, "GIF", save_all=True, append_images=[second], duration=100)
    assert getattr(Image.open(io.BytesIO(animated)), "n_frames", 1) == 2
    loaded = pdq_of(load_image(animated, name="anim.gif"))
    assert pdq_distance(loaded, pdq_of(first)) <= MODE_TOLERANCE
    assert pdq_distance(loaded, pdq_of(second)) > PDQ.default_threshold


def test_load_image_returns_a_decoded_rgb_image(vectors_dir: Path) -> None:
    data = (vectors_dir / "pdq" / "misc-images" / "modes" / "P.png").read_bytes()
    image = load_image(data, name="P.png")
    assert image.mode == "RGB"
    assert image.size == (1600, 1004)
    assert image.getpixel((0, 0)) is not None
