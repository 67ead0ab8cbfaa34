"""Media that must be refused, and media that only gets file hashes."""

from __future__ import annotations

import hashlib
import re
import resource
import struct
import time
import zlib
from pathlib import Path

import pytest

from node.errors import ImageTooLargeError, MediaError
from node.hashing import DEFAULT_MAX_PIXELS, get_signal_type, hash_media, load_image
from node.hashing.signal_type import FileHasher


def png_declaring(width: int, height: int) -> bytes:
    """A PNG header declaring ``width`` x ``height`` RGB pixels, followed by a tiny IDAT.

    Valid CRCs, so Pillow accepts the header; decoding would need width*height*3 bytes.
    """

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


@pytest.mark.parametrize("name", ["x.jpg", "x.bin", ""])
def test_empty_file_is_refused_whatever_its_name(name: str) -> None:
    with pytest.raises(MediaError, match="file is empty"):
        hash_media(b"", name=name)
    with pytest.raises(MediaError, match="file is empty"):
        load_image(b"", name=name)


@pytest.mark.parametrize("name", ["md5", "sha256"])
def test_file_hashers_refuse_empty_bytes(name: str) -> None:
    hasher = get_signal_type(name)
    assert isinstance(hasher, FileHasher)
    with pytest.raises(MediaError, match="file is empty"):
        hasher.hash_bytes(b"")


@pytest.mark.parametrize("name", ["cut.jpg", "cut.bin"])
def test_truncated_jpeg_is_refused(vectors_dir: Path, name: str) -> None:
    # Pillow recognises the JPEG whatever the name, so a broken one is an error, not md5-only.
    whole = (vectors_dir / "pdq" / "bridge-mods" / "aaa-orig.jpg").read_bytes()
    with pytest.raises(MediaError, match="truncated") as caught:
        hash_media(whole[: len(whole) // 2], name=name)
    assert not isinstance(caught.value, ImageTooLargeError)


def test_jpeg_missing_only_its_end_marker_is_refused(vectors_dir: Path) -> None:
    whole = (vectors_dir / "pdq" / "bridge-mods" / "aaa-orig.jpg").read_bytes()
    with pytest.raises(MediaError, match="truncated"):
        load_image(whole[:-2], name="almost.jpg")


@pytest.mark.parametrize("name", ["notes.jpg", "NOTES.JPEG", "x.png", "x.heic", "x.webp"])
def test_non_image_with_an_image_name_is_refused(name: str) -> None:
    expected = re.escape(name) + " is not a decodable image: its bytes are not JPEG, PNG"
    with pytest.raises(MediaError, match=expected):
        hash_media(b"these are meeting notes, not a picture\n", name=name)


def test_non_image_is_refused_by_load_image_whatever_its_name() -> None:
    with pytest.raises(MediaError, match=r"notes\.txt is not a decodable image"):
        load_image(b"plain text", name="notes.txt")


def test_png_declaring_30000_squared_pixels_is_refused_before_decoding() -> None:
    data = png_declaring(30_000, 30_000)
    assert len(data) < 200
    rss_before, started = peak_rss_bytes(), time.perf_counter()
    with pytest.raises(ImageTooLargeError, match="900000000 pixels"):
        hash_media(data, name="bomb.png")
    # Decoding 900 Mpx would take minutes and 2.7 GB for the RGB buffer alone.
    assert time.perf_counter() - started < 1.0
    assert peak_rss_bytes() - rss_before < 50 * 2**20


def test_declared_size_over_our_limit_is_refused_before_decoding() -> None:
    # 72 Mpx: above DEFAULT_MAX_PIXELS but under Pillow's own bomb check, so this is our check.
    # The IDAT is tiny, so decoding would have failed as truncated instead.
    assert DEFAULT_MAX_PIXELS < 9000 * 8000
    with pytest.raises(
        ImageTooLargeError, match=r"big\.png is 9000x8000 = 72,000,000 pixels; the limit is 67,"
    ):
        load_image(png_declaring(9000, 8000), name="big.png")


def test_max_pixels_is_the_callers_limit(vectors_dir: Path) -> None:
    data = (vectors_dir / "pdq" / "misc-images" / "wee.jpg").read_bytes()  # 34x42 = 1,428 px
    assert load_image(data, max_pixels=34 * 42).size == (34, 42)
    with pytest.raises(ImageTooLargeError, match="the limit is 1,427 pixels"):
        hash_media(data, name="wee.jpg", max_pixels=34 * 42 - 1)
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(data, max_pixels=0)


@pytest.mark.parametrize("name", ["blob.bin", "clip.mp4", "report.pdf", ""])
def test_non_image_gets_only_file_hashes(name: str) -> None:
    data = bytes(range(256)) * 40 + b"\x00\x00\x00\x18ftypisom"
    computed = hash_media(data, name=name)
    assert [c.signal.type for c in computed] == ["md5", "sha256"]
    assert computed[0].signal.value == hashlib.md5(data).digest()
    assert computed[1].signal.value == hashlib.sha256(data).digest()
    assert all(c.quality is None for c in computed)


def test_file_hashes_of_an_image_are_of_its_bytes(vectors_dir: Path) -> None:
    data = (vectors_dir / "pdq" / "misc-images" / "wee.jpg").read_bytes()
    by_type = {c.signal.type: c.signal for c in hash_media(data, name="wee.jpg")}
    assert by_type["sha256"].value == hashlib.sha256(data).digest()
    assert set(by_type) == {"md5", "sha256", "pdq", "phash", "dhash"}
