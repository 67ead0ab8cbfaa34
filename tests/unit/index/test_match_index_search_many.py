"""MatchIndex.search_many answers every signal exactly as MatchIndex.search does, one by one."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.core import Node
from node.errors import InvalidInputError
from node.hashing import Signal, get_signal_type
from node.index import BitIndex, kernel
from node.log.entry import Labels
from node.service.match_index import MatchIndex, TypedHit

LABELS = Labels(entity="test")
TYPES = ("pdq", "phash", "dhash", "md5", "sha256")


def _flip(value: bytes, bits: int, rng: random.Random) -> bytes:
    number = int.from_bytes(value, "big")
    for bit in rng.sample(range(len(value) * 8), bits):
        number ^= 1 << bit
    return number.to_bytes(len(value), "big")


def _set_kernel(index: MatchIndex, on: bool) -> None:
    # The numpy fallback must answer the same as the kernel, batched or not.
    for name in TYPES:
        typed = index._indexes[name]
        if isinstance(typed, BitIndex):
            typed.use_kernel = on


def _one_by_one(index: MatchIndex, signals: list[Signal], threshold: int | None) -> object:
    return [index.search(s, threshold) for s in signals]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[int, list[int], list[str], int | None, bool]:
    seed = draw(st.integers(0, 2**32 - 1))
    # Rows per publish batch: several batches so the bit indexes have segments and a tail.
    batches = draw(st.lists(st.integers(1, 40), min_size=1, max_size=4))
    query_types = draw(st.lists(st.sampled_from(TYPES), min_size=0, max_size=40))
    # None (each type's default), 0, PDQ's default, and up to the 64-bit types' maximum.
    threshold = draw(st.none() | st.sampled_from([0, 10, 31]) | st.integers(0, 64))
    use_kernel = kernel.AVAILABLE and draw(st.booleans())
    return seed, batches, query_types, threshold, use_kernel


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario())
def test_search_many_equals_search_one_by_one(
    case: tuple[int, list[int], list[str], int | None, bool],
) -> None:
    seed, batches, query_types, threshold, use_kernel = case
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, Node.init(Path(tmp) / "n", "a.example") as node:
        # A few centres per type, copied and nudged: queries then have several hits at once,
        # ties in distance included, so the order of each answer is tested too.
        centres = {
            name: [rng.randbytes(get_signal_type(name).size) for _ in range(3)] for name in TYPES
        }
        stored: list[Signal] = []
        for size in batches:
            lines = []
            for _ in range(size):
                name = rng.choice(TYPES)
                base = rng.choice(centres[name])
                if get_signal_type(name).is_perceptual and rng.random() < 0.7:
                    value = _flip(base, rng.randrange(0, 12), rng)
                elif rng.random() < 0.5:
                    value = base
                else:
                    value = rng.randbytes(len(base))
                stored.append(Signal(name, value))
                lines.append(f"{name} {value.hex()}")
            report = node.publisher.import_hash_list(lines, LABELS)
            # Retract some of them: a retracted row must be missing from both answers.
            for entry in report.entries:
                if rng.random() < 0.25:
                    node.publisher.retract(entry.entry_index)
        index = node.index
        _set_kernel(index, use_kernel)
        signals = []
        for name in query_types:
            pool = [s.value for s in stored if s.type == name] or centres[name]
            base = rng.choice(pool)
            flips = rng.randrange(0, 20) if get_signal_type(name).is_perceptual else 0
            signals.append(Signal(name, _flip(base, flips, rng) if rng.random() < 0.8 else base))
        batched = index.search_many(signals, threshold)
        assert batched == _one_by_one(index, signals, threshold)
        assert all(isinstance(h, TypedHit) for hits in batched for h in hits)


def test_search_many_finds_what_search_finds_on_a_crowd(tmp_path: Path) -> None:
    # More hits per query than the kernel's first pass keeps (it re-runs those queries).
    rng = random.Random(7)
    centre = rng.randbytes(32)
    # Distinct values: one origin publishes a hash live only once.
    crowd = {centre}
    while len(crowd) < 600:
        crowd.add(_flip(centre, rng.randrange(1, 8), rng))
    values = [centre, *sorted(crowd - {centre})]
    with Node.init(tmp_path / "n", "a.example") as node:
        node.publisher.import_hash_list([f"pdq {v.hex()}" for v in values], LABELS)
        node.publisher.retract(5)
        signals = [Signal("pdq", centre), Signal("pdq", _flip(centre, 3, rng))] * 3
        batched = node.index.search_many(signals, 31)
        assert batched == _one_by_one(node.index, signals, 31)
        assert len(batched[0]) == 599  # every stored neighbour but the retracted one


def test_search_many_refuses_a_threshold_search_refuses(tmp_path: Path) -> None:
    with Node.init(tmp_path / "n", "a.example") as node:
        signals = [Signal("md5", bytes(16)), Signal("phash", bytes(8))]
        with pytest.raises(InvalidInputError, match=r"phash is outside 0\.\.64") as one:
            _one_by_one(node.index, signals, 65)
        with pytest.raises(InvalidInputError, match=r"phash is outside 0\.\.64") as many:
            node.index.search_many(signals, 65)
        assert str(one.value) == str(many.value)
        # Exact types ignore the threshold either way.
        assert node.index.search_many(signals[:1], 65) == [[]]


def test_search_many_of_nothing_is_nothing(tmp_path: Path) -> None:
    with Node.init(tmp_path / "n", "a.example") as node:
        assert node.index.search_many([], None) == []


def test_warm_up_reports_whether_the_kernel_serves(tmp_path: Path) -> None:
    with Node.init(tmp_path / "n", "a.example") as node:
        assert node.index.warm_up() == kernel.AVAILABLE
        _set_kernel(node.index, False)
        assert node.index.warm_up() is False
