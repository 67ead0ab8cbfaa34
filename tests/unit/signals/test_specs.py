"""The signal spec table, the values built on it, and the hashers registered behind it."""

from __future__ import annotations

import pytest

from node.errors import InvalidSignalError, UnknownSignalTypeError
from node.hashing import registry
from node.hashing.exact_types import Md5SignalType, Sha256SignalType
from node.hashing.perceptual_types import DHashSignalType, PdqSignalType, PHashSignalType
from node.signals import SIGNAL_SPECS, ComputedSignal, Signal, signal_spec


def test_the_table_names_every_type_with_its_shape_and_threshold() -> None:
    table = {
        s.name: (s.size, s.is_perceptual, s.default_threshold, s.max_distance) for s in SIGNAL_SPECS
    }
    assert table == {
        "pdq": (32, True, 31, 256),
        "phash": (8, True, 10, 64),
        "dhash": (8, True, 10, 64),
        "md5": (16, False, 0, 0),
        "sha256": (32, False, 0, 0),
    }


def test_every_spec_has_its_hasher_in_the_table_s_order() -> None:
    assert [t.name for t in registry.signal_types()] == [s.name for s in SIGNAL_SPECS]
    assert all(registry.spec_of(t) == signal_spec(t.name) for t in registry.signal_types())


def test_a_value_is_checked_against_its_spec_without_any_hasher() -> None:
    assert str(Signal("md5", bytes(16))) == "md5:" + "00" * 16
    with pytest.raises(InvalidSignalError, match="pdq value has 31 bytes; expected 32"):
        Signal("pdq", bytes(31))
    with pytest.raises(UnknownSignalTypeError, match="'vpdq'; expected one of: pdq, phash"):
        Signal("vpdq", bytes(32))
    assert ComputedSignal(Signal("pdq", bytes(32)), 80).quality == 80


class _WideDHash(DHashSignalType):
    size = 16  # disagrees with the table's 8


class _Extra(Md5SignalType):
    name = "md4"


def test_registry_refuses_hashers_that_disagree_with_the_table() -> None:
    fine = (PdqSignalType(), PHashSignalType(), DHashSignalType(), Md5SignalType())
    with pytest.raises(RuntimeError, match=r"missing \['sha256'\]"):
        registry._registered(fine)
    with pytest.raises(RuntimeError, match=r"unknown \['md4'\]"):
        registry._registered((*fine, Sha256SignalType(), _Extra()))
    with pytest.raises(RuntimeError, match="hasher dhash has max_distance 64"):
        registry._registered((*fine[:2], _WideDHash(), fine[3], Sha256SignalType()))
