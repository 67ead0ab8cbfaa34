"""Signal values, the registry and distances."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.errors import InvalidSignalError, UnknownSignalTypeError
from node.hashing import (
    FileHasher,
    ImageHasher,
    Signal,
    SignalType,
    get_signal_type,
    parse_signal,
    signal_types,
)

PDQ_HEX = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
ALL = signal_types()
PERCEPTUAL = [t for t in ALL if t.is_perceptual]
EXACT = [t for t in ALL if not t.is_perceptual]


def values_of(signal_type: SignalType) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=signal_type.size, max_size=signal_type.size)


def test_registry_names_sizes_and_capabilities() -> None:
    table = {t.name: (t.size, t.max_distance, t.default_threshold) for t in ALL}
    assert table == {
        "pdq": (32, 256, 31),
        "phash": (8, 64, 10),
        "dhash": (8, 64, 10),
        "md5": (16, 0, 0),
        "sha256": (32, 0, 0),
    }
    assert {t.name for t in ALL if isinstance(t, ImageHasher)} == {"pdq", "phash", "dhash"}
    assert {t.name for t in ALL if isinstance(t, FileHasher)} == {"md5", "sha256"}
    assert {t.name for t in PERCEPTUAL} == {"pdq", "phash", "dhash"}
    assert all(get_signal_type(t.name) is t for t in ALL)


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(UnknownSignalTypeError, match="'vpdq'; expected one of: pdq, phash"):
        get_signal_type("vpdq")
    with pytest.raises(UnknownSignalTypeError, match="'tlsh'"):
        parse_signal("tlsh:abcd")


def test_get_signal_type_is_exact_but_parse_signal_accepts_any_case() -> None:
    with pytest.raises(UnknownSignalTypeError):
        get_signal_type("PDQ")
    assert parse_signal(f"  PDQ:{PDQ_HEX.upper()}\n") == Signal("pdq", bytes.fromhex(PDQ_HEX))


def test_parse_trims_whitespace_and_ignores_case() -> None:
    pdq = get_signal_type("pdq")
    expected = Signal("pdq", bytes.fromhex(PDQ_HEX))
    assert pdq.parse(f"\t {PDQ_HEX.upper()} \r\n") == expected
    assert pdq.parse(PDQ_HEX) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (PDQ_HEX[:-1], "pdq value has 63 hex digits; expected 64"),
        (PDQ_HEX + "0", "pdq value has 65 hex digits; expected 64"),
        ("", "pdq value has 0 hex digits; expected 64"),
        ("g" + PDQ_HEX[1:], "pdq value contains 'g'; expected only hex digits"),
        (PDQ_HEX[:30] + " " + PDQ_HEX[31:], "contains ' '"),
        ("0x" + PDQ_HEX[2:], "contains 'x'"),
    ],
)
def test_parse_rejects_malformed_values(text: str, message: str) -> None:
    with pytest.raises(InvalidSignalError, match=message):
        get_signal_type("pdq").parse(text)


def test_parse_signal_needs_a_type_prefix() -> None:
    with pytest.raises(InvalidSignalError, match="no ':'; expected TYPE:HEX"):
        parse_signal(PDQ_HEX)


def test_signal_checks_itself_and_prints_as_type_colon_hex() -> None:
    signal = Signal("md5", bytes(range(16)))
    assert signal.hex == "000102030405060708090a0b0c0d0e0f"
    assert str(signal) == "md5:000102030405060708090a0b0c0d0e0f"
    with pytest.raises(InvalidSignalError, match="md5 value has 15 bytes; expected 16"):
        Signal("md5", bytes(15))
    with pytest.raises(UnknownSignalTypeError):
        Signal("MD5", bytes(16))
    with pytest.raises(TypeError, match="bytes"):
        Signal("md5", bytearray(16))  # type: ignore[arg-type]
    with pytest.raises(InvalidSignalError, match="phash value has 9 bytes; expected 8"):
        get_signal_type("phash").from_bytes(bytes(9))


@pytest.mark.parametrize("signal_type", ALL, ids=lambda t: t.name)
@given(data=st.data())
def test_text_forms_roundtrip(signal_type: SignalType, data: st.DataObject) -> None:
    value = data.draw(values_of(signal_type))
    signal = signal_type.from_bytes(value)
    assert parse_signal(str(signal)) == signal
    assert signal_type.parse(signal.hex) == signal
    assert signal_type.parse(f" {signal.hex.upper()}\n") == signal
    assert len(signal.hex) == 2 * signal_type.size


@pytest.mark.parametrize("signal_type", PERCEPTUAL, ids=lambda t: t.name)
@given(data=st.data())
def test_perceptual_distance_is_hamming(signal_type: SignalType, data: st.DataObject) -> None:
    a = data.draw(values_of(signal_type))
    b = data.draw(values_of(signal_type))
    popcount = sum(bin(x ^ y).count("1") for x, y in zip(a, b, strict=True))
    assert signal_type.distance(a, b) == popcount == signal_type.distance(b, a)
    assert signal_type.distance(a, a) == 0
    assert 0 <= signal_type.distance(a, b) <= signal_type.max_distance


@pytest.mark.parametrize("signal_type", EXACT, ids=lambda t: t.name)
@given(data=st.data())
def test_exact_distance_never_matches_unequal_values(
    signal_type: SignalType, data: st.DataObject
) -> None:
    a = data.draw(values_of(signal_type))
    b = data.draw(values_of(signal_type))
    assert signal_type.distance(a, a) == 0
    assert signal_type.distance(a, b) == signal_type.distance(b, a) == (0 if a == b else 1)
    if a != b:
        assert signal_type.distance(a, b) > signal_type.max_distance


def test_distance_rejects_values_of_the_wrong_length() -> None:
    pdq = get_signal_type("pdq")
    with pytest.raises(InvalidSignalError, match="pdq value has 8 bytes; expected 32"):
        pdq.distance(bytes(32), bytes(8))


def test_single_bit_difference_in_the_first_hex_digit() -> None:
    pdq = get_signal_type("pdq")
    flipped = "7" + PDQ_HEX[1:]  # f -> 7: the most significant bit
    assert pdq.distance(pdq.parse(PDQ_HEX).value, pdq.parse(flipped).value) == 1
