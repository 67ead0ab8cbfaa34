"""Signal values and the table of signal types, with no hashing library behind them.

A :class:`Signal` is a hash value with the name of its type; :data:`SIGNAL_SPECS` says what each
type is (size, perceptual or exact, default threshold). The log, the index, the store and the
wire build and check signals with this alone, so they load without Pillow, pdqhash or imagehash;
the hashers in :mod:`node.hashing` register behind these specs (:mod:`node.hashing.registry`).
"""

from node.signals.parsing import parse_signal
from node.signals.specs import SIGNAL_SPECS, SignalSpec, signal_spec
from node.signals.values import ComputedSignal, Signal

__all__ = [
    "SIGNAL_SPECS",
    "ComputedSignal",
    "Signal",
    "SignalSpec",
    "parse_signal",
    "signal_spec",
]
