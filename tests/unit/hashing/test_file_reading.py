"""Reading a file to hash: regular files only, bounded in size, read once, never torn.

Issue 9, finding 7: a FIFO hung ``hashfed add``/``hash`` for ever, a 1 GB file was read whole
into memory, and a file rewritten while it was hashed could yield the hashes of neither
version. Real files, FIFOs, devices and real writer processes; the CLI as a real process where
a hang or memory is the question.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from node.errors import MediaError
from node.hashing import DEFAULT_MAX_FILE_BYTES, hash_media, hash_media_file, hash_paths
from node.hashing.media import READ_CHUNK_BYTES
from node.testing import sample_media

HASHFED = Path(sys.executable).with_name("hashfed")
MiB = 1024 * 1024


def _cli(*args: str, home: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HASHFED_HOME": str(home)}
    return subprocess.run(
        [str(HASHFED), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


# -- what is not a regular file ----------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_a_fifo_is_refused_at_once_by_the_cli_without_waiting_for_a_writer(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "upload.jpg"
    os.mkfifo(fifo)
    started = time.monotonic()
    try:
        result = _cli("hash", str(fifo), home=tmp_path / "no-home", timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("`hashfed hash FIFO` was still waiting for a writer after 30 s")
    assert time.monotonic() - started < 30
    assert result.returncode == 4, result.stderr
    assert "named pipe (FIFO), not a regular file" in result.stderr
    assert "nothing was read" in result.stderr
    # `add` (publishing) reads files the same way, and publishes nothing
    home = tmp_path / "home"
    assert _cli("init", "--origin", "acme.example", home=home).returncode == 0
    try:
        result = _cli("add", str(fifo), "--entity", "E", home=home, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("`hashfed add FIFO` was still waiting for a writer after 30 s")
    assert result.returncode == 4, result.stderr
    assert "named pipe (FIFO), not a regular file" in result.stderr
    assert _cli("log", "--json", home=home).stdout.strip() == "[]"


def test_a_directory_and_a_device_are_refused_naming_what_they_are(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"is a directory, not a regular file"):
        hash_media_file(tmp_path)
    # /dev/null reads as empty, so before the check it was called an empty file
    with pytest.raises(MediaError, match=r"/dev/null is a character device, not a regular"):
        hash_media_file(Path("/dev/null"))


def test_a_symlink_to_a_regular_file_is_hashed_as_that_file(tmp_path: Path) -> None:
    target = tmp_path / "clip.bin"
    target.write_bytes(b"some bytes")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    assert hash_media_file(link) == hash_media(b"some bytes", name="link.bin")


def test_a_missing_file_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"cannot read .*missing\.bin: No such file"):
        hash_media_file(tmp_path / "missing.bin")


# -- the size limit ----------------------------------------------------------------------------


def test_a_file_above_the_default_limit_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:  # sparse: costs no disk
        f.truncate(DEFAULT_MAX_FILE_BYTES + 1)
    started = time.monotonic()
    with pytest.raises(MediaError) as info:
        hash_media_file(big)
    assert time.monotonic() - started < 1  # hashing 256 MiB would take seconds
    assert f"is {DEFAULT_MAX_FILE_BYTES + 1:,} bytes, above the limit of" in str(info.value)
    assert "max_file_bytes in config.toml" in str(info.value)


def test_max_file_bytes_from_config_applies_to_the_cli(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _cli("init", "--origin", "acme.example", home=home).returncode == 0
    config = home / "config.toml"
    config.write_text(config.read_text() + "max_file_bytes = 1000\n")
    small, large = tmp_path / "small.bin", tmp_path / "large.bin"
    small.write_bytes(b"x" * 1000)
    large.write_bytes(b"x" * 1001)
    assert _cli("hash", str(small), home=home).returncode == 0
    result = _cli("add", str(large), "--entity", "E", home=home)
    assert result.returncode == 4, result.stderr
    assert "is 1,001 bytes, above the limit of 1,000 bytes" in result.stderr
    assert _cli("log", "--json", home=home).stdout.strip() == "[]"  # nothing was published
    config.write_text(config.read_text().replace("max_file_bytes = 1000", "max_file_bytes = 0"))
    result = _cli("hash", str(small), home=home)
    assert result.returncode == 4, result.stderr
    assert "max_file_bytes is 0; expected a positive number of bytes" in result.stderr


# -- read once, streaming where no image is involved -------------------------------------------


def _png() -> bytes:
    return sample_media.png_bytes(sample_media.generate(3))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("clip.mp4", os.urandom(3 * READ_CHUNK_BYTES + 17)),  # streamed, several chunks
        ("notes.txt", b"short"),
        ("exactly.bin", b"\x00" * READ_CHUNK_BYTES),
        ("photo.png", None),  # an image: decoded from the bytes read
        ("photo.bin", None),  # an image whatever its name: Pillow knows it by its bytes
    ],
)
def test_signals_are_exactly_those_of_hash_media_on_the_files_bytes(
    tmp_path: Path, name: str, content: bytes | None
) -> None:
    data = _png() if content is None else content
    path = tmp_path / name
    path.write_bytes(data)
    expected = hash_media(data, name=name)
    assert hash_media_file(path) == expected
    assert hash_paths([path] * 4, workers=2) == [expected] * 4  # the worker processes too
    if content is not None:
        assert {c.signal.type for c in expected} == {"md5", "sha256"}
        assert expected[0].signal.value == hashlib.md5(data).digest()


def test_a_file_named_as_an_image_that_is_none_gives_the_same_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.jpg"
    path.write_bytes(b"not a jpeg at all")
    with pytest.raises(MediaError) as direct:
        hash_media(b"not a jpeg at all", name="fake.jpg")
    with pytest.raises(MediaError) as from_file:
        hash_media_file(path)
    assert str(from_file.value) == str(direct.value)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.bin"
    path.touch()
    with pytest.raises(MediaError, match=r"empty\.bin: file is empty"):
        hash_media_file(path)


def _peak_rss_kib(args: list[str], home: Path) -> int:
    env = {**os.environ, "HASHFED_HOME": str(home)}
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.returncode == 0, stderr
    return usage.ru_maxrss


def test_hashing_a_large_non_image_file_does_not_hold_it_in_memory(tmp_path: Path) -> None:
    small, large = tmp_path / "small.bin", tmp_path / "large.bin"
    small.write_bytes(b"x" * 1000)
    size = 192 * MiB
    with open(large, "wb") as f:  # sparse: reads as zeros without using the disk
        f.truncate(size)
    home = tmp_path / "no-home"
    baseline = _peak_rss_kib([str(HASHFED), "hash", "--json", str(small)], home)
    peak = _peak_rss_kib([str(HASHFED), "hash", "--json", str(large)], home)
    # Read whole, the file alone would add 192 MiB; streamed, a chunk or two.
    assert (peak - baseline) * 1024 < 32 * MiB, (baseline, peak)


# -- a file rewritten while it is read ---------------------------------------------------------

_WRITER = r"""
import os, sys, time
path, a, b = sys.argv[1], open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
fd = os.open(path, os.O_WRONLY)
print("ready", flush=True)
while True:
    for version in (a, b):
        for offset in range(0, len(version), 65536):  # in place, chunk by chunk, as editors do
            os.pwrite(fd, version[offset : offset + 65536], offset)
        time.sleep(0.002)
"""


def test_a_file_rewritten_while_read_is_refused_never_hashed_torn(tmp_path: Path) -> None:
    size = 8 * MiB
    a, b = os.urandom(size), os.urandom(size)
    (tmp_path / "a").write_bytes(a)
    (tmp_path / "b").write_bytes(b)
    path = tmp_path / "clip.bin"
    path.write_bytes(a)
    versions = {
        tuple(hash_media(a, name="clip.bin")): "a",
        tuple(hash_media(b, name="clip.bin")): "b",
    }
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), str(tmp_path / "a"), str(tmp_path / "b")],
        stdout=subprocess.PIPE,
        text=True,
    )
    outcomes: dict[str, int] = {"a": 0, "b": 0, "changed": 0, "torn": 0}
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                signals = tuple(hash_media_file(path))
            except MediaError as exc:
                assert "file changed while being read" in str(exc), exc
                outcomes["changed"] += 1
            else:
                outcomes[versions.get(signals, "torn")] += 1
    finally:
        writer.kill()
        writer.communicate()  # reaps it and closes its pipe
    assert outcomes["torn"] == 0, outcomes  # hashes of neither version are never returned
    assert outcomes["changed"] > 0, outcomes  # the writer did overlap reads


def test_an_image_rewritten_while_read_is_refused_too(tmp_path: Path) -> None:
    # The whole-read path (images) checks the same way: a file that grows during the read.
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, "PNG")
    path = tmp_path / "grow.png"
    path.write_bytes(buffer.getvalue())
    appender = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "f = open(sys.argv[1], 'ab', buffering=0)\n"
            "print('ready', flush=True)\n"
            "while True:\n"
            "    f.write(b'\\0' * 4096)\n"
            "    time.sleep(0.0005)\n",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    changed = 0
    try:
        assert appender.stdout is not None and appender.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not changed:
            try:
                hash_media_file(path, max_bytes=1 << 40)
            except MediaError as exc:
                assert "file changed while being read" in str(exc), exc
                changed += 1
    finally:
        appender.kill()
        appender.communicate()  # reaps it and closes its pipe
    assert changed
