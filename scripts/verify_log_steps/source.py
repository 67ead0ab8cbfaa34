"""Where ``verify_log.py`` reads logs from: one interface, so one audit loop serves every source."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

from verify_log_steps.report import OriginReport, Policy

# A checkpoint note as a source lists it, with the size the listing declares (None: none given).
Listed = tuple[int | None, str]


class LogSource(ABC):
    """The logs an audit reads. Nothing a source says is trusted: every claim is checked against
    the keys given on the command line; a source only decides what to read and how to word its
    absence. Failures are raised as :class:`auditlib.errors.VerificationError`."""

    # How a report says an origin is present, e.g. "no longer exported".
    absent: str

    @abstractmethod
    def origins(self) -> list[str]:
        """The origins this source holds, in the order they are audited."""

    @abstractmethod
    def not_held(self, origin: str) -> str:
        """The failure for ``--origin`` naming an origin this source does not hold."""

    @abstractmethod
    def checkpoints(self, origin: str) -> list[Listed]:
        """The origin's checkpoint notes, in the order they are to be verified."""

    @abstractmethod
    def entries(self, origin: str, notes: Sequence[Listed]) -> Iterable[bytes]:
        """The origin's entries from index 0, read lazily while they are checked."""

    def wanted(self, notes: Sequence[Listed]) -> frozenset[int]:
        """The entry indices whose bytes :meth:`confirm` needs (none, unless it checks proofs)."""
        return frozenset()

    @abstractmethod
    def confirm(
        self,
        report: OriginReport,
        roots: dict[int, bytes],
        kept: dict[int, bytes],
        policy: Policy,
    ) -> None:
        """Step 5, the source's own claims: what it declared, or the proofs it serves, against
        the roots the entries gave (``roots``) and the entries asked for (``kept``)."""

    @abstractmethod
    def close(self) -> None:
        """Release what the source holds open."""
