"""A worker thread that folds bit indexes' tails into their buckets (see BitIndex.fold).

Requests while it works are remembered, not queued: after a pass it looks again and stops once
no request came meanwhile, so it runs only while there is something to fold.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from node.index.bit_index import BitIndex

log = logging.getLogger("hashfed.index")


class FoldWorker:
    def __init__(self, indexes: Callable[[], Iterable[tuple[str, BitIndex]]]) -> None:
        """``indexes()`` names the indexes to fold, asked anew on every pass."""
        self._indexes = indexes
        self._lock = threading.Lock()
        self._wanted = False
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def request(self) -> None:
        """Fold every index that is due, on the worker thread (started if idle)."""
        with self._lock:
            self._wanted = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="hashfed-index-fold", daemon=True
                )
                self._thread.start()

    def join(self) -> None:
        """Wait until the worker is idle (what was requested before is folded)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._wanted:
                    self._thread = None
                    return
                self._wanted = False
            for name, index in self._indexes():
                try:
                    index.fold()
                except Exception:  # an unfolded tail is still searched exactly: log, go on
                    log.exception("folding the %s index failed; its tail stays scanned", name)
