"""Each SQLite repository implements its Protocol exactly, so a second backend written against
node/store/interfaces.py serves every caller the SQLite store serves."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from node.store import interfaces
from node.store.audit import SqliteAudit
from node.store.integrity import SqliteIntegrity
from node.store.log import SqliteLog
from node.store.members import SqliteMembers
from node.store.repository import SqliteRepository
from node.store.signals import SqliteSignals
from node.store.store import Store
from node.store.witnessing import SqliteWitnessing

PAIRS: list[tuple[type, type]] = [
    (interfaces.LogRepository, SqliteLog),
    (interfaces.SignalRepository, SqliteSignals),
    (interfaces.MemberRepository, SqliteMembers),
    (interfaces.WitnessRepository, SqliteWitnessing),
    (interfaces.AuditRepository, SqliteAudit),
    (interfaces.IntegrityRepository, SqliteIntegrity),
]

# What every SQLite repository shares and the interfaces leave to the backend.
BACKEND_ONLY = set(vars(SqliteRepository)) | {"snapshot"}


def _public(cls: type) -> set[str]:
    return {n for n, v in vars(cls).items() if not n.startswith("_") and callable(v)}


def _signature(fn: object) -> list[tuple[str, object, object, object]]:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    params = [(p.name, p.kind, p.default, p.annotation) for p in sig.parameters.values()]
    return [*params, ("return", None, None, sig.return_annotation)]


def mismatches(protocol: type, cls: type) -> list[str]:
    """How ``cls`` departs from ``protocol``: missing, extra or differently typed methods."""
    wanted = _public(protocol)
    have = {n for c in cls.__mro__[:-1] for n in _public(c)} - BACKEND_ONLY
    out = [f"{cls.__name__} lacks {n}" for n in sorted(wanted - have)]
    out += [f"{cls.__name__}.{n} is not in {protocol.__name__}" for n in sorted(have - wanted)]
    for name in sorted(wanted & have):
        if _signature(getattr(protocol, name)) != _signature(getattr(cls, name)):
            out.append(f"{cls.__name__}.{name} differs from {protocol.__name__}.{name}")
    return out


@pytest.mark.parametrize(("protocol", "cls"), PAIRS, ids=[c.__name__ for _, c in PAIRS])
def test_each_sqlite_repository_implements_its_protocol(protocol: type, cls: type) -> None:
    assert mismatches(protocol, cls) == []


def test_the_store_composes_every_repository_behind_its_protocol(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    hints = interfaces.StoreBackend.__annotations__
    assert set(hints) == {"log", "signals", "members", "witnessing", "audit", "integrity"}
    for name, (protocol, cls) in zip(hints, PAIRS, strict=True):
        assert hints[name] == protocol.__name__
        assert type(getattr(store, name)) is cls
    for name in _public(interfaces.StoreBackend):
        want, have = (
            _signature(getattr(interfaces.StoreBackend, name)),
            _signature(getattr(Store, name)),
        )
        if want[-1][-1] == "AbstractContextManager[None]":
            # A @contextmanager generator is declared as returning its Iterator.
            want, have = want[:-1], have[:-1] if have[-1][-1] == "Iterator[None]" else have
        assert want == have, name
    store.close()


def test_the_check_finds_a_repository_that_departs_from_its_protocol() -> None:
    class Drifted(SqliteLog):
        def entry(self, origin: str, idx: int, extra: int = 0) -> tuple[bytes, bytes]:
            return super().entry(origin, idx)

        def vacuum(self) -> None:
            pass

    assert mismatches(interfaces.LogRepository, Drifted) == [
        "Drifted.vacuum is not in LogRepository",
        "Drifted.entry differs from LogRepository.entry",
    ]

    class Partial(SqliteRepository):
        pass

    assert "Partial lacks append" in mismatches(interfaces.LogRepository, Partial)
