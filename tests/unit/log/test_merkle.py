"""Tests for node.log.merkle, proofs, proof_verification: vectors, a naive RFC 9162 model, and
mutated proofs."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from node.errors import MalformedError, ProofError
from node.log.merkle import EMPTY_ROOT, HASH_SIZE, Frontier, leaf_hash, node_hash, root_of
from node.log.proof_verification import (
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)
from node.log.proofs import (
    consistency_proof,
    inclusion_proof,
    subtree_consistency_proof,
    subtree_inclusion_proof,
)
from tests.support.paths import VECTORS

MERKLE_VECTORS = "merkle"
VECTOR_KINDS = ("inclusion", "consistency", "subtreeinclusion", "subtreeconsistency")
MAX_LEAVES = 70
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)


# --- naive reference: the recursive definitions, straight from the RFC 9162 / MTC draft text ---


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(d: list[bytes]) -> bytes:
    """MTH(D[n]) over entries (not leaf hashes), RFC 9162 §2.1.1."""
    n = len(d)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + d[0])
    k = _k(n)
    return _sha256(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:]))


def naive_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 9162 §2.1.3.1."""
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*naive_path(m, d[:k]), naive_mth(d[k:])]
    return [*naive_path(m - k, d[k:]), naive_mth(d[:k])]


def naive_proof(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true), RFC 9162 §2.1.4.1."""
    return naive_subproof(m, d, True)


def naive_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [naive_mth(d)]
    k = _k(n)
    if m <= k:
        return [*naive_subproof(m, d[:k], b), naive_mth(d[k:])]
    return [*naive_subproof(m - k, d[k:], False), naive_mth(d[:k])]


def naive_subtree_proof(start: int, end: int, d: list[bytes]) -> list[bytes]:
    """SUBTREE_PROOF(start, end, D[n]) from draft-ietf-plants-merkle-tree-certs."""
    return naive_subtree_subproof(start, end, d, True)


def naive_subtree_subproof(start: int, end: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if start == 0 and end == n:
        return [] if b else [naive_mth(d)]
    k = _k(n)
    if end <= k:
        return [*naive_subtree_subproof(start, end, d[:k], b), naive_mth(d[k:])]
    if k <= start:
        return [*naive_subtree_subproof(start - k, end - k, d[k:], b), naive_mth(d[:k])]
    assert start == 0  # a valid subtree straddles the split only from the window's start
    return [*naive_subtree_subproof(0, end - k, d[k:], False), naive_mth(d[:k])]


def naive_valid_subtree(start: int, end: int) -> bool:
    if not 0 <= start < end:
        return False
    width = 1
    while width < end - start:
        width *= 2
    return start % width == 0


# --- strategies ---------------------------------------------------------------------------------


def make_entries(n: int, salt: bytes) -> list[bytes]:
    # Distinct entries: with repeated leaves a proof for one index can honestly verify another.
    return [salt + i.to_bytes(4, "big") for i in range(n)]


entries_st = st.builds(make_entries, st.integers(1, MAX_LEAVES), st.binary(max_size=8))


@st.composite
def tree_and_subtree(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    entries = draw(entries_st)
    end = draw(st.integers(1, len(entries)))
    start = draw(st.sampled_from([s for s in range(end) if naive_valid_subtree(s, end)]))
    return entries, start, end


def hashes_of(entries: list[bytes]) -> list[bytes]:
    return [leaf_hash(e) for e in entries]


def flip_bit(proof: list[bytes], position: int, bit: int) -> list[bytes]:
    changed = bytearray(proof[position])
    changed[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:position], bytes(changed), *proof[position + 1 :]]


# --- reference vectors ----------------------------------------------------------------------------


def _vector_params() -> list[Any]:
    folder = VECTORS / MERKLE_VECTORS
    files = sorted(folder.rglob("*.json")) if folder.is_dir() else []
    if not files:
        # One param that still requests the fixture, so its skip/fail logic decides.
        return [pytest.param(None, id="vectors-missing")]
    return [
        pytest.param(p.relative_to(folder).as_posix(), id=p.relative_to(folder).as_posix())
        for p in files
    ]


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _check_inclusion(v: dict[str, Any], proof: list[bytes]) -> None:
    verify_inclusion(_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], proof, _b64(v["root"]))


def _check_consistency(v: dict[str, Any], proof: list[bytes]) -> None:
    verify_consistency(v["size1"], v["size2"], proof, _b64(v["root1"]), _b64(v["root2"]))


def _check_subtree_inclusion(v: dict[str, Any], proof: list[bytes]) -> None:
    leaf, root = _b64(v["leafHash"]), _b64(v["root"])
    verify_subtree_inclusion(leaf, v["leafIdx"], v["start"], v["end"], proof, subtree_root=root)


def _check_subtree_consistency(v: dict[str, Any], proof: list[bytes]) -> None:
    root1, root2 = _b64(v["root1"]), _b64(v["root2"])
    verify_subtree_consistency(
        v["start"], v["end"], v["size"], proof, subtree_root=root1, root=root2
    )


VECTOR_CHECKS: dict[str, Callable[[dict[str, Any], list[bytes]], None]] = {
    "inclusion": _check_inclusion,
    "consistency": _check_consistency,
    "subtreeinclusion": _check_subtree_inclusion,
    "subtreeconsistency": _check_subtree_consistency,
}


@pytest.mark.parametrize("relpath", _vector_params())
def test_vector(vectors_dir: Path, relpath: str | None) -> None:
    folder = vectors_dir / MERKLE_VECTORS
    if relpath is None:
        pytest.fail(f"no Merkle vectors (*.json) under {folder}")
    vector = json.loads((folder / relpath).read_text())
    proof = [_b64(h) for h in vector["proof"] or []]
    check = VECTOR_CHECKS[relpath.split("/")[0]]
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            check(vector, proof)
    else:
        check(vector, proof)


def test_vector_folders_all_present(vectors_dir: Path) -> None:
    folder = vectors_dir / MERKLE_VECTORS
    for kind in VECTOR_KINDS:
        assert any((folder / kind).rglob("*.json")), f"no vectors in {folder / kind}"


# --- known answers --------------------------------------------------------------------------------

# The eight-entry test tree used by RFC 6962 implementations (Certificate Transparency, Trillian).
RFC6962_ENTRIES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
]
RFC6962_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_empty_root_and_hash_prefixes() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_of([]) == EMPTY_ROOT == Frontier.empty().root()
    assert leaf_hash(b"") == _sha256(b"\x00")
    assert node_hash(b"a" * 32, b"b" * 32) == _sha256(b"\x01" + b"a" * 32 + b"b" * 32)
    assert HASH_SIZE == len(EMPTY_ROOT) == 32


@pytest.mark.parametrize("size", range(1, 9))
def test_rfc6962_test_tree_roots(size: int) -> None:
    leaves = hashes_of(RFC6962_ENTRIES[:size])
    assert root_of(leaves).hex() == RFC6962_ROOTS[size - 1]
    assert Frontier.empty().extend(leaves).root().hex() == RFC6962_ROOTS[size - 1]


def test_error_message_names_counts() -> None:
    leaves = hashes_of(RFC6962_ENTRIES)
    proof = inclusion_proof(4, leaves)
    with pytest.raises(
        ProofError, match="has 5 hashes, expected 3 for index 4 in a tree of size 8"
    ):
        verify_inclusion(leaves[4], 4, 8, [*proof, *proof[:2]], root_of(leaves))


# --- properties against the naive model -----------------------------------------------------------


@PROPERTY_SETTINGS
@given(entries=st.lists(st.binary(max_size=6), max_size=MAX_LEAVES))
def test_root_of_matches_naive(entries: list[bytes]) -> None:
    assert root_of(hashes_of(entries)) == naive_mth(entries)


@PROPERTY_SETTINGS
@given(entries=entries_st, cut=st.integers(0, MAX_LEAVES))
def test_frontier_roots_after_every_append(entries: list[bytes], cut: int) -> None:
    leaves = hashes_of(entries)
    frontier = Frontier.empty()
    for n, leaf in enumerate(leaves, start=1):
        frontier = frontier.append(leaf)
        assert frontier.size == n
        assert len(frontier.hashes) == n.bit_count()
        assert frontier.root() == naive_mth(entries[:n])
    # extend() in two batches lands on the same frontier as one append at a time.
    cut = min(cut, len(leaves))
    assert Frontier.empty().extend(leaves[:cut]).extend(leaves[cut:]) == frontier


@PROPERTY_SETTINGS
@given(entries=st.lists(st.binary(max_size=4), max_size=MAX_LEAVES))
def test_frontier_bytes_roundtrip(entries: list[bytes]) -> None:
    frontier = Frontier.empty().extend(hashes_of(entries))
    data = frontier.to_bytes()
    assert len(data) == HASH_SIZE * frontier.size.bit_count()
    assert Frontier.from_bytes(frontier.size, data) == frontier
    with pytest.raises(MalformedError):
        Frontier.from_bytes(2 * frontier.size + 1, data)  # one more perfect subtree
    with pytest.raises(MalformedError):
        Frontier.from_bytes(frontier.size, data + b"\x00")


@PROPERTY_SETTINGS
@given(entries=entries_st, data=st.data())
def test_inclusion_proof_matches_naive_and_verifies(
    entries: list[bytes], data: st.DataObject
) -> None:
    leaves, n = hashes_of(entries), len(entries)
    index = data.draw(st.integers(0, n - 1), label="index")
    proof = inclusion_proof(index, leaves)
    assert proof == naive_path(index, entries)
    verify_inclusion(leaves[index], index, n, proof, naive_mth(entries))


@PROPERTY_SETTINGS
@given(entries=entries_st, data=st.data())
def test_consistency_proof_matches_naive_and_verifies(
    entries: list[bytes], data: st.DataObject
) -> None:
    leaves, n = hashes_of(entries), len(entries)
    old = data.draw(st.integers(1, n), label="old_size")
    proof = consistency_proof(old, leaves)
    assert proof == naive_proof(old, entries)
    verify_consistency(old, n, proof, naive_mth(entries[:old]), naive_mth(entries))


@PROPERTY_SETTINGS
@given(case=tree_and_subtree(), data=st.data())
def test_subtree_inclusion_matches_naive_and_verifies(
    case: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    entries, start, end = case
    leaves = hashes_of(entries)
    index = data.draw(st.integers(start, end - 1), label="index")
    proof = subtree_inclusion_proof(index, start, end, leaves)
    assert proof == naive_path(index - start, entries[start:end])
    subtree_root = naive_mth(entries[start:end])
    verify_subtree_inclusion(leaves[index], index, start, end, proof, subtree_root=subtree_root)


@PROPERTY_SETTINGS
@given(case=tree_and_subtree())
def test_subtree_consistency_matches_naive_and_verifies(case: tuple[list[bytes], int, int]) -> None:
    entries, start, end = case
    proof = subtree_consistency_proof(start, end, hashes_of(entries))
    assert proof == naive_subtree_proof(start, end, entries)
    subtree_root, root = naive_mth(entries[start:end]), naive_mth(entries)
    verify_subtree_consistency(
        start, end, len(entries), proof, subtree_root=subtree_root, root=root
    )


@PROPERTY_SETTINGS
@given(entries=entries_st, data=st.data())
def test_subtree_proofs_generalise_rfc_proofs(entries: list[bytes], data: st.DataObject) -> None:
    leaves, n = hashes_of(entries), len(entries)
    m = data.draw(st.integers(1, n), label="m")
    assert subtree_consistency_proof(0, m, leaves) == consistency_proof(m, leaves)
    assert subtree_consistency_proof(m - 1, m, leaves) == inclusion_proof(m - 1, leaves)
    assert subtree_inclusion_proof(m - 1, 0, n, leaves) == inclusion_proof(m - 1, leaves)


# --- mutated proofs are rejected ------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(entries=entries_st, data=st.data())
def test_mutated_inclusion_rejected(entries: list[bytes], data: st.DataObject) -> None:
    leaves, n = hashes_of(entries), len(entries)
    index = data.draw(st.integers(0, n - 1), label="index")
    proof, root = inclusion_proof(index, leaves), root_of(leaves)
    leaf = leaves[index]

    def rejected(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, proof, root)

    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        rejected(leaf, index, n, flip_bit(proof, position, bit), root)
        rejected(leaf, index, n, proof[:position] + proof[position + 1 :], root)
    rejected(leaf, index, n, [*proof, leaves[0]], root)
    rejected(leaf, index, n, [leaves[0], *proof], root)
    rejected(flip_bit([leaf], 0, bit)[0], index, n, proof, root)
    rejected(leaf, index, n, proof, flip_bit([root], 0, bit)[0])
    rejected(leaf, index, n, proof, root[:-1])
    rejected(leaf[:-1], index, n, proof, root)
    rejected(leaf, n, n, proof, root)
    rejected(leaf, -1, n, proof, root)
    other = (
        data.draw(st.integers(0, n - 1).filter(lambda i: i != index), label="other")
        if n > 1
        else None
    )
    if other is not None:
        rejected(leaf, other, n, proof, root)


@PROPERTY_SETTINGS
@given(entries=entries_st, data=st.data())
def test_inclusion_with_wrong_size_rejected(entries: list[bytes], data: st.DataObject) -> None:
    leaves, n = hashes_of(entries), len(entries)
    index = data.draw(st.integers(0, n - 1), label="index")
    size = data.draw(st.integers(index + 1, 2 * MAX_LEAVES).filter(lambda s: s != n), label="size")
    proof = inclusion_proof(index, leaves)
    # A proof for one size can honestly fit another whose path has the same shape (the signed
    # checkpoint binds the size); any size with a different proof length must be refused.
    assume(len(naive_path(index, [b""] * size)) != len(proof))
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], index, size, proof, root_of(leaves))


@PROPERTY_SETTINGS
@given(entries=entries_st, data=st.data())
def test_mutated_consistency_rejected(entries: list[bytes], data: st.DataObject) -> None:
    assume(len(entries) > 1)
    leaves, n = hashes_of(entries), len(entries)
    old = data.draw(st.integers(1, n - 1), label="old_size")
    proof = consistency_proof(old, leaves)
    old_root, new_root = root_of(leaves[:old]), root_of(leaves)

    def rejected(old: int, new: int, proof: list[bytes], old_root: bytes, new_root: bytes) -> None:
        with pytest.raises(ProofError):
            verify_consistency(old, new, proof, old_root, new_root)

    position = data.draw(st.integers(0, len(proof) - 1), label="position")
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    rejected(old, n, flip_bit(proof, position, bit), old_root, new_root)
    rejected(old, n, proof[:position] + proof[position + 1 :], old_root, new_root)
    rejected(old, n, [*proof, leaves[0]], old_root, new_root)
    rejected(old, n, [], old_root, new_root)
    rejected(old, n, proof, new_root, old_root)
    rejected(old, n, proof, flip_bit([old_root], 0, bit)[0], new_root)
    rejected(old, n, proof, old_root, flip_bit([new_root], 0, bit)[0])
    rejected(n, old, proof, old_root, new_root)
    rejected(0, n, proof, EMPTY_ROOT, new_root)
    rejected(old, old, proof, old_root, old_root)
    wrong_old = (
        data.draw(st.integers(1, n - 1).filter(lambda s: s != old), label="wrong")
        if n > 2
        else None
    )
    if wrong_old is not None and len(naive_proof(wrong_old, entries)) != len(proof):
        rejected(wrong_old, n, proof, old_root, new_root)


@PROPERTY_SETTINGS
@given(case=tree_and_subtree(), data=st.data())
def test_mutated_subtree_proofs_rejected(
    case: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    entries, start, end = case
    leaves, n = hashes_of(entries), len(entries)
    assume(not (start == 0 and end == n))
    proof = subtree_consistency_proof(start, end, leaves)
    subtree_root, root = root_of(leaves[start:end]), root_of(leaves)
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    position = data.draw(st.integers(0, len(proof) - 1), label="position")
    for bad_proof, bad_sub, bad_root in [
        (flip_bit(proof, position, bit), subtree_root, root),
        (proof[:position] + proof[position + 1 :], subtree_root, root),
        ([*proof, root], subtree_root, root),
        (proof, flip_bit([subtree_root], 0, bit)[0], root),
        (proof, subtree_root, flip_bit([root], 0, bit)[0]),
    ]:
        with pytest.raises(ProofError):
            verify_subtree_consistency(
                start, end, n, bad_proof, subtree_root=bad_sub, root=bad_root
            )
    index = data.draw(st.integers(start, end - 1), label="index")
    inclusion = subtree_inclusion_proof(index, start, end, leaves)
    with pytest.raises(ProofError):
        verify_subtree_inclusion(
            leaves[index],
            index,
            start,
            end,
            inclusion,
            subtree_root=flip_bit([subtree_root], 0, bit)[0],
        )
    with pytest.raises(ProofError):
        verify_subtree_inclusion(
            leaves[index], index, start, end, [*inclusion, root], subtree_root=subtree_root
        )


# --- edge cases -----------------------------------------------------------------------------------


def test_edge_cases_of_sizes() -> None:
    leaves = hashes_of(RFC6962_ENTRIES)
    root = root_of(leaves)
    verify_consistency(8, 8, [], root, root)
    with pytest.raises(ProofError, match="expected 0"):
        verify_consistency(8, 8, [root], root, root)
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[0], 0, 0, [], EMPTY_ROOT)
    verify_inclusion(leaves[0], 0, 1, [], leaves[0])
    # An empty subtree is part of every tree: only its own hash is checked.
    verify_subtree_consistency(3, 3, 8, [], subtree_root=EMPTY_ROOT, root=root)
    with pytest.raises(ProofError):
        verify_subtree_consistency(3, 3, 8, [], subtree_root=root, root=root)
    with pytest.raises(ProofError, match="not a valid subtree"):
        verify_subtree_consistency(2, 5, 8, [], subtree_root=root, root=root)
    with pytest.raises(ProofError, match="does not fit"):
        verify_subtree_consistency(8, 9, 8, [], subtree_root=root, root=root)


def test_generators_reject_programmer_errors() -> None:
    leaves = hashes_of(RFC6962_ENTRIES)
    calls: list[Callable[[], object]] = [
        lambda: inclusion_proof(-1, leaves),
        lambda: inclusion_proof(8, leaves),
        lambda: consistency_proof(0, leaves),
        lambda: consistency_proof(9, leaves),
        lambda: subtree_inclusion_proof(3, 2, 5, leaves),
        lambda: subtree_inclusion_proof(1, 2, 4, leaves),
        lambda: subtree_consistency_proof(4, 9, leaves),
        lambda: Frontier.empty().append(b"short"),
        lambda: Frontier(-1, ()),
        lambda: Frontier(3, (EMPTY_ROOT,)),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            call()
    assert consistency_proof(8, leaves) == []
    assert subtree_consistency_proof(0, 8, leaves) == []
    assert subtree_consistency_proof(5, 5, leaves) == []
    with pytest.raises(MalformedError):
        Frontier.from_bytes(-1, b"")


def test_large_tree_proofs_stay_iterative() -> None:
    # Proof generation walks the tree with loops, so a deep, lopsided tree is no problem.
    n = (1 << 17) + 3
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    root = root_of(leaves)
    assert Frontier.empty().extend(leaves[:1000]).extend(leaves[1000:]).root() == root
    for index in (0, n // 2, n - 1):
        verify_inclusion(leaves[index], index, n, inclusion_proof(index, leaves), root)
    old = n - 2
    verify_consistency(old, n, consistency_proof(old, leaves), root_of(leaves[:old]), root)
    start, end = 1 << 16, (1 << 16) + 1000
    proof = subtree_consistency_proof(start, end, leaves)
    verify_subtree_consistency(
        start, end, n, proof, subtree_root=root_of(leaves[start:end]), root=root
    )
