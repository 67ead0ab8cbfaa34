"""Bad input is refused with a clear error, and nothing of it is stored (one test each)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from node.core import Node
from node.testing import sample_media
from tests.support.cli import hashfed


def _state(home: Path) -> tuple[int, int, int]:
    """(entries, signals, checkpoints) in the store: must not move on a refusal."""
    with Node.open(home) as node:
        held = node.store.integrity.row_counts()
        return held["entries"], held["signals"], held["checkpoints"]


def _refused(home: Path, *args: str, code: int, says: str, input: str | None = None) -> None:
    before = _state(home)
    result = hashfed(home, *args, input=input)
    assert result.exit_code == code, result.output
    assert says in result.stderr, result.stderr
    assert _state(home) == before


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.png"
    path.write_bytes(sample_media.png_bytes(sample_media.generate(1)))
    return path


def test_truncated_jpeg(home: Path, tmp_path: Path, good: Path) -> None:
    data = sample_media.jpeg_bytes(sample_media.generate(2))
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(data[: len(data) // 2])
    # Published together with a good file: the whole command is refused.
    _refused(home, "add", str(good), str(bad), code=4, says="truncated.jpg")


def test_empty_file(home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    _refused(home, "add", str(empty), code=4, says="empty")


def test_text_file_named_jpg(home: Path, tmp_path: Path) -> None:
    fake = tmp_path / "fake.jpg"
    fake.write_text("this is not a picture\n")
    _refused(home, "add", str(fake), code=4, says="not a decodable image")


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def test_png_declaring_30000_by_30000(home: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_declaring(30000, 30000))
    _refused(home, "add", str(bomb), code=4, says="the limit is 67,108,864 pixels")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("pdq:" + "ab" * 31, "expected 64"),
        ("pdq:" + "zz" * 32, "hex"),
        ("md5:" + "a" * 31, "expected 32"),
        ("sha256:", "expected 64"),
    ],
)
def test_signal_of_wrong_length_or_not_hex(home: Path, value: str, says: str) -> None:
    _refused(home, "add", "--signal", value, code=4, says=says)


def test_unknown_signal_type(home: Path) -> None:
    _refused(home, "add", "--signal", "tlsh:" + "ab" * 35, code=4, says="tlsh")


def test_pdq_quality_below_50(home: Path, tmp_path: Path) -> None:
    pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    _refused(home, "add", "--signal", f"pdq:{pdq}", "--quality", "49", code=4, says="quality 49")


def test_low_quality_image_file(home: Path, vectors_dir: Path) -> None:
    small = vectors_dir / "pdq" / "misc-images" / "small.jpg"
    _refused(home, "add", str(small), code=4, says="below 50")


def test_bulk_import_with_one_malformed_line(home: Path, tmp_path: Path) -> None:
    lines = [f"md5 {i:032x}" for i in range(50)]
    lines[36] = "md5 not-a-hash"
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(lines) + "\n")
    _refused(home, "add", "--from", str(listing), code=4, says="line 37")


def test_bulk_import_low_quality_row(home: Path) -> None:
    pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    text = f"{pdq},90,a.jpg\n{pdq},12,b.jpg\n"
    _refused(home, "add", "--from", "-", input=text, code=4, says="line 2")


def test_match_refuses_threshold_out_of_range(home: Path) -> None:
    result = hashfed(home, "match", "--signal", "pdq:" + "00" * 32, "--threshold", "300")
    assert result.exit_code == 4 and "outside 0..256" in result.stderr
