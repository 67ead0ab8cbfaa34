"""The parallel hasher publishes exactly what the sequential path computes, in order, and fails
the same way: same MediaError, first bad file in input order, nothing published."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from node.core import Node
from node.errors import MediaError
from node.hashing import ComputedSignal, hash_media, hash_paths, parallel
from node.log.entry import Labels
from node.testing import sample_media
from tests.unit.hashing.vector_cases import hashed

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def sequential(paths: list[Path]) -> list[list[ComputedSignal]]:
    """The documented path, written out: read the bytes, ``hash_media`` them by file name."""
    return [hash_media(p.read_bytes(), name=p.name) for p in paths]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Real generated pictures: 1024x768 JPEGs, PNGs (one with alpha) and edited copies."""
    folder = tmp_path_factory.mktemp("parallel")
    files = []
    for seed in range(6):
        image = sample_media.generate(seed, (1024, 768))
        jpeg = folder / f"photo-{seed}.jpg"
        jpeg.write_bytes(sample_media.jpeg_bytes(image))
        files.append(jpeg)
        for name, transform in sample_media.TRANSFORMS.items():
            copy = folder / f"copy-{seed}-{name.split()[0].lower()}.jpg"
            copy.write_bytes(sample_media.jpeg_bytes(transform(image)))
            files.append(copy)
    png = folder / "small.png"
    png.write_bytes(sample_media.png_bytes(sample_media.generate(7)))
    translucent = sample_media.generate(8).convert("RGBA")
    translucent.putalpha(128)
    rgba = folder / "translucent.png"
    rgba.write_bytes(sample_media.png_bytes(translucent))
    video = folder / "clip.mp4"  # not an image, and not named like one: file hashes only
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    return [*files, png, rgba, video]


def test_parallel_equals_sequential_on_generated_images(generated: list[Path]) -> None:
    expected = sequential(generated)
    assert hash_paths(generated, workers=2, min_parallel=1) == expected
    assert [len(s) for s in expected][-1] == 2  # the .mp4 got md5 and sha256 only


def test_parallel_equals_sequential_on_reference_vectors(vectors_dir: Path) -> None:
    root = vectors_dir / "pdq"
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    assert len(files) >= 30
    # The sequential side comes from the session cache the conformance tests also fill.
    expected = [list(hashed(vectors_dir, str(p.relative_to(root))).values()) for p in files]
    got = hash_paths(files, workers=2, min_parallel=1)
    # Byte for byte: the values exactly as they are signed and published, with their quality.
    assert [[(c.signal.type, c.signal.value, c.quality) for c in s] for s in got] == [
        [(c.signal.type, c.signal.value, c.quality) for c in s] for s in expected
    ]
    assert got == expected


def test_first_bad_file_in_input_order_raises_the_sequential_error(
    generated: list[Path], tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(generated[0].read_bytes()[:5000])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    paths = [*generated[:5], truncated, *generated[5:10], empty]

    with pytest.raises(MediaError) as expected:
        sequential(paths)
    with pytest.raises(MediaError) as got:
        hash_paths(paths, workers=2, min_parallel=1)
    assert type(got.value) is type(expected.value)
    assert str(got.value) == str(expected.value)
    assert "truncated.jpg" in str(got.value)


def test_unreadable_file_is_a_media_error_naming_it(tmp_path: Path, generated: list[Path]) -> None:
    missing = tmp_path / "gone.jpg"
    with pytest.raises(MediaError, match=r"cannot read .*gone\.jpg"):
        hash_paths([*generated[:3], missing], workers=2, min_parallel=1)


def test_size_limit_is_applied_in_the_workers(generated: list[Path]) -> None:
    with pytest.raises(MediaError, match=r"photo-0\.jpg is 1024x768"):
        hash_paths(generated[:4], max_pixels=1000, workers=2, min_parallel=1)


def test_small_inputs_do_not_start_a_pool(
    generated: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool was started for a small input")

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", no_pool)
    few = generated[: parallel.MIN_PARALLEL_FILES - 1]
    assert hash_paths(few, workers=2) == sequential(few)
    assert hash_paths(generated[:6], workers=1) == sequential(generated[:6])
    assert hash_paths([], workers=2) == []


def test_a_threaded_caller_gets_forkserver_workers_with_the_same_results(
    generated: list[Path],
) -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert parallel._context().get_start_method() != "fork"
        assert hash_paths(generated[:6], workers=2, min_parallel=1) == sequential(generated[:6])
    finally:
        release.set()
        other.join()


def test_workers_are_capped_by_available_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_usable_cores", lambda: 8)
    monkeypatch.setattr(parallel, "_available_memory", lambda: None)
    assert parallel.default_workers() == 8
    per_worker = parallel.WORKER_BASE_BYTES + parallel.PEAK_BYTES_PER_PIXEL * 8192 * 8192
    monkeypatch.setattr(parallel, "_available_memory", lambda: 3 * per_worker + 1)
    assert parallel.default_workers() == 3
    # A lower pixel limit needs less memory per worker, so more of them fit.
    assert parallel.default_workers(1_000_000) == 8
    monkeypatch.setattr(parallel, "_available_memory", lambda: 1)
    assert parallel.default_workers() == 1


def test_node_hash_files_and_publish_all_or_nothing(
    home: Path, generated: list[Path], tmp_path: Path
) -> None:
    with Node.open(home) as node:
        files = generated[:6]
        assert node.hasher.hash_files(files) == [node.hasher.hash_file(p) for p in files]
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(b"not a jpeg")
        with pytest.raises(MediaError, match=r"bad\.jpg"):
            node.publisher.publish_files([*files, bad], Labels(entity="test"))
        assert node.store.log.latest_checkpoint(node.origin) is None
        report = node.publisher.publish_files(files, Labels(entity="test"))
        assert report.checkpoint_size == len(files)


def test_cli_hash_uses_the_parallel_hasher_and_the_home_settings(
    home: Path, generated: list[Path], tmp_path: Path
) -> None:
    from tests.support.cli import hashfed, hashfed_json

    files = generated[:5]
    printed = hashfed_json(tmp_path / "no-node-here", "hash", *map(str, files))
    assert [f["file"] for f in printed] == [str(p) for p in files]
    assert [[(s["type"], s["value"], s["quality"]) for s in f["signals"]] for f in printed] == [
        [(c.signal.type, c.signal.hex, c.quality) for c in s] for s in sequential(files)
    ]

    config = home / "config.toml"
    config.write_text(config.read_text() + "max_pixels = 1000\n")
    refused = hashfed(home, "hash", *map(str, files))
    assert refused.exit_code == 4
    assert "photo-0.jpg is 1024x768" in refused.stderr
