"""Whose fault is it? Deciding between a lying relay and an equivocating origin.

When entries received from a peer fail to reproduce the origin's signed root, two parties could
be at fault:

* the **peer** served wrong bytes (a flipped bit, a reordered or truncated range, an entry of
  another log). This is by far the likelier case, and the peer alone is blamed: its range is
  discarded and counted against it, and another peer supplies the entries;
* the **origin** signed two trees that cannot both be true: the checkpoint we verified earlier
  (size ``m``, root ``r_m``) and the one the peer relays now (size ``n > m``, root ``r_n``).

Only a proof convicts the origin: a full set of ``n`` leaves that reproduces the signed ``r_n``
while its first ``m`` leaves do *not* reproduce our verified ``r_m``. Such leaves exist only if
the origin signed both trees (finding others would break SHA-256), so they are evidence anyone
can re-check with the two signed notes and the leaves. Anything less (the peer cannot serve the
full log, the leaves reproduce neither root, the log is too long to check) blames the peer.

:class:`FullLogCheck` is that decision, fed with leaf hashes as they stream in, so even a long
log is checked in O(log n) memory. It does no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from node.log.merkle import EMPTY_ROOT, Frontier
from node.log.proofs import consistency_proof

MAX_FULL_LOG_ENTRIES = 2_000_000
"""Longest log fetched again in full to decide whose fault a failed import is. Longer logs are
not re-fetched; a failure there is counted against the peer (the origin is never blamed without
proof)."""

PEER_FAULT_REASON = "batch does not prove into the origin's signed tree"


class Culprit(enum.Enum):
    PEER = "peer"
    """The peer's entries do not reproduce the origin's signed root: discard, count, move on."""

    ORIGIN = "origin"
    """The origin signed two inconsistent trees: keep the evidence, stop importing it."""

    NOBODY = "nobody"
    """The full log reproduces both roots: the entries we tried before were wrong (the peer's
    fault for those), but the ones just received verify."""


@dataclass(frozen=True)
class Verdict:
    culprit: Culprit
    reason: str
    detail: dict[str, object]


class FullLogCheck:
    """Folds an origin's full log, leaf by leaf, and judges it against two roots.

    ``our_size``/``our_root``: the tree we verified before (``our_size`` may be 0).
    ``signed_size``/``signed_root``: the origin-signed checkpoint the peer relays, larger.
    """

    def __init__(self, our_size: int, our_root: bytes, signed_size: int, signed_root: bytes):
        if not 0 <= our_size < signed_size:
            raise ValueError(f"need 0 <= our size < signed size, got {our_size}, {signed_size}")
        self.our_size = our_size
        self.our_root = our_root
        self.signed_size = signed_size
        self.signed_root = signed_root
        self._frontier = Frontier.empty()
        self._prefix_root: bytes | None = None if our_size else EMPTY_ROOT
        self._overflow = 0
        # Kept (32 bytes each, at most the re-fetch bound) so that a verdict against the origin
        # carries a consistency proof anyone can check offline, not just our word.
        self._leaves: list[bytes] = []

    @property
    def size(self) -> int:
        return self._frontier.size + self._overflow

    def add(self, leaves: Iterable[bytes]) -> None:
        """Append leaf hashes in log order."""
        for leaf in leaves:
            if self._frontier.size >= self.signed_size:
                self._overflow += 1
                continue
            self._frontier = self._frontier.append(leaf)
            self._leaves.append(leaf)
            if self._frontier.size == self.our_size:
                self._prefix_root = self._frontier.root()

    def root_at(self, size: int) -> bytes | None:
        """Root of the first ``size`` leaves folded, or None if fewer arrived."""
        if not 0 <= size <= len(self._leaves):
            return None
        return Frontier.empty().extend(self._leaves[:size]).root()

    def verdict(self) -> Verdict:
        detail: dict[str, object] = {
            "smaller_size": self.our_size,
            "smaller_root": self.our_root.hex(),
            "larger_size": self.signed_size,
            "larger_root": self.signed_root.hex(),
            "leaf_count": self.size,
        }
        if self.size != self.signed_size:
            return Verdict(
                Culprit.PEER,
                f"{PEER_FAULT_REASON} (served {self.size} entries for a tree of "
                f"{self.signed_size})",
                detail,
            )
        full_root = self._frontier.root()
        if full_root != self.signed_root:
            detail["computed_root"] = full_root.hex()
            return Verdict(Culprit.PEER, PEER_FAULT_REASON, detail)
        assert self._prefix_root is not None  # 0 <= our_size < size, so it was passed
        detail["prefix_root"] = self._prefix_root.hex()
        if self._prefix_root == self.our_root:
            return Verdict(
                Culprit.NOBODY,
                "the full log reproduces both signed roots; the entries received before did not",
                detail,
            )
        # The proof shows the signed larger tree's first our_size leaves hash to prefix_root;
        # since that is not the root the origin signed for our_size, no single log gives both.
        detail["consistency_proof"] = [
            h.hex() for h in consistency_proof(self.our_size, self._leaves)
        ]
        detail["explanation"] = (
            f"the {self.signed_size} leaves reproduce the signed root of size {self.signed_size}, "
            f"but their first {self.our_size} give root {self._prefix_root.hex()}, not the "
            f"signed root of size {self.our_size}: the origin signed two inconsistent trees"
        )
        return Verdict(
            Culprit.ORIGIN,
            f"the origin signed a tree of size {self.signed_size} that does not extend its "
            f"tree of size {self.our_size}",
            detail,
        )


def judge(
    our_size: int,
    our_root: bytes,
    signed_size: int,
    signed_root: bytes,
    leaves: Iterable[bytes],
) -> Verdict:
    """One-shot :class:`FullLogCheck` over all ``leaves``."""
    check = FullLogCheck(our_size, our_root, signed_size, signed_root)
    check.add(leaves)
    return check.verdict()
