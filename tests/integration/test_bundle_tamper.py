"""A real node's bundle verifies; changing any one byte of it fails, with a reason, in both the
node's own verifier and the independent offline script."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from node.core import Node
from node.errors import HashfedError
from node.hashing import parse_signal
from node.log.bundle import Bundle
from node.log.entry import Labels

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "verify_bundle", ROOT / "scripts/verify_bundle.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bundle_and_key(home: Path) -> tuple[bytes, str]:
    from node.hashing import ComputedSignal

    with Node.open(home) as node:
        for i in range(6):
            signal = parse_signal(f"md5:{i:032x}")
            node.publisher.publish_signals(
                [ComputedSignal(signal, None)], Labels(entity="E", tags=("t",))
            )
        return node.reader.bundle("acme.example", 4).to_json().encode(), str(node.verifier)


def test_every_single_byte_change_fails(bundle_and_key: tuple[bytes, str]) -> None:
    data, key_text = bundle_and_key
    script = _script()
    from node.log.keys import VerifierKey

    key = VerifierKey.parse(key_text)
    Bundle.from_json(data).verify(key)
    assert script.check_bundle(data, key_text)[0] == 0
    for position in range(len(data)):
        # A few values per byte here (the script's own test tries all 255): a bit flip, white
        # space (which JSON would ignore outside strings), and a plausible neighbour.
        for value in {data[position] ^ 0x01, 0x20, 0x0A, (data[position] + 1) % 256} - {
            data[position]
        }:
            mutated = bytearray(data)
            mutated[position] = value
            with pytest.raises(HashfedError) as caught:
                Bundle.from_json(bytes(mutated)).verify(key)
            assert str(caught.value), f"byte {position}: no reason given"
            code, message = script.check_bundle(bytes(mutated), key_text)
            assert code == 1 and message.startswith("FAIL: "), (position, value, message)
