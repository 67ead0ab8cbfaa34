"""In-memory match indexes: row number == position, rows never deleted, only marked not live.

``BitIndex`` answers Hamming-radius queries exactly (multi-index hashing with a scan fallback);
``ExactIndex`` answers equality queries for cryptographic digests. Both are numpy (``BitIndex``
searches through a numba kernel when numba is installed, ``node.index.kernel``, imported at the
first search so that importing this package stays cheap) and know nothing
about signal types: the caller picks bit lengths and thresholds. ``state()`` / ``from_state()``
turn either into a flat dict of arrays and back without rebuilding.
"""

from node.index.bit_index import BitIndex, warm_up
from node.index.exact_index import ExactIndex
from node.index.hamming import brute_force
from node.index.hit import Hit

__all__ = ["BitIndex", "ExactIndex", "Hit", "brute_force", "warm_up"]
