"""BitIndex equals brute force exactly, through appends, merges and live flag changes."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.index import BitIndex, brute_force, kernel
from tests.unit.index.data import clustered, near

# (bits, max_threshold, chunk counts the layout allows)
SHAPES = {256: (31, (8, 12, 16)), 64: (10, (2, 3, 4))}


@st.composite
def configured_index(draw: st.DrawFn, bits: int) -> BitIndex:
    max_threshold, chunk_options = SHAPES[bits]
    chunks = draw(st.sampled_from(chunk_options))
    narrowest = 64 // (chunks * 64 // bits)
    return BitIndex(
        bits,
        max_threshold=max_threshold,
        chunks=chunks,
        # None: widths chosen from segment sizes, so merges also change widths (rebuild path).
        # Fixed widths stay small: a 2**k offsets table per chunk is allocated per segment.
        key_bits=draw(st.none() | st.integers(1, min(narrowest, 10))),
        offsets_bytes_per_row=draw(st.sampled_from([0.5, 16.0, 400.0])),
        tail_rows=draw(st.integers(1, 24)),
        merge_fraction=draw(st.sampled_from([1, 2, 8])),
        # Huge: always probe buckets (the code under test); small: exercise the scan switch.
        scan_fraction=draw(st.sampled_from([1e12, 1e12, 0.25])),
    )


def run_operations(data: st.DataObject, bits: int) -> None:
    max_threshold = SHAPES[bits][0]
    index = data.draw(configured_index(bits))
    # Both search paths must equal brute force: the compiled kernel and the numpy fallback.
    use_kernel = kernel.AVAILABLE and data.draw(st.booleans())
    index.use_kernel = use_kernel
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    centres = rng.integers(0, 256, size=(data.draw(st.integers(1, 4)), bits // 8), dtype=np.uint8)
    values = np.zeros((0, bits // 8), dtype=np.uint8)
    live = np.zeros(0, dtype=np.bool_)
    thresholds = st.sampled_from([0, 1, max_threshold, max_threshold + 1, bits]) | st.integers(
        0, bits
    )
    for _ in range(data.draw(st.integers(1, 12))):
        action = data.draw(
            st.sampled_from(
                ["append", "append", "unfolded", "fold", "retract", "restore", "query", "reload"]
            )
        )
        if action == "fold":
            due = index.fold_due()
            assert index.fold() == due
            assert not index.fold_due()
        if action == "reload":
            # A snapshot holds at most tail_rows unfolded rows (MatchIndex.settle folds first).
            index.fold()
            # A snapshot round trip must answer exactly like the original from then on.
            state = index.state()
            if data.draw(st.booleans()):
                buffer = io.BytesIO()
                np.savez(buffer, **state)  # type: ignore[arg-type]
                buffer.seek(0)
                with np.load(buffer, allow_pickle=False) as loaded:
                    state = {name: loaded[name] for name in loaded.files}
                for array in state.values():
                    array.setflags(write=False)
            index = BitIndex.from_state(state)
            index.use_kernel = use_kernel
        if action in ("append", "unfolded"):
            new = clustered(rng, data.draw(st.integers(0, 40)), bits, centres)
            as_list = data.draw(st.booleans())
            index.append(
                [bytes(v) for v in new] if as_list else new,
                first_row=len(values),
                fold=action == "append",
            )
            values = np.concatenate([values, new])
            live = np.concatenate([live, np.ones(len(new), dtype=np.bool_)])
        elif action in ("retract", "restore") and len(values):
            rows = rng.integers(0, len(values), size=data.draw(st.integers(1, 10)))
            index.set_live(rows.tolist(), action == "restore")
            live[rows] = action == "restore"
        assert len(index) == len(values)
        threshold = data.draw(thresholds)
        queries = [bytes(c) for c in centres]
        queries += [
            near(rng, values[r], bits, int(rng.integers(0, 40))) for r in range(len(values))[-3:]
        ]
        queries.append(rng.integers(0, 256, size=bits // 8, dtype=np.uint8).tobytes())
        expected = [brute_force(values, live, q, threshold) for q in queries]
        assert index.search_many(queries, threshold) == expected
        for query, want in zip(queries, expected, strict=True):
            assert index.search(query, threshold) == want
            rows, distances = index.search_arrays(query, threshold)
            assert list(zip(rows.tolist(), distances.tolist(), strict=True)) == [
                (hit.row, hit.distance) for hit in want
            ]
        many = index.search_many_arrays(queries, threshold)
        assert [rows.tolist() for rows, _ in many] == [[h.row for h in w] for w in expected]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_pdq_sized_index_equals_brute_force(data: st.DataObject) -> None:
    run_operations(data, 256)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_64_bit_index_equals_brute_force(data: st.DataObject) -> None:
    run_operations(data, 64)
