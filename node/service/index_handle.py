"""The match index, opened on first use and shared by the services that read or feed it."""

from __future__ import annotations

from pathlib import Path

from node.service.match_index import MatchIndex
from node.store.store import Store


class IndexHandle:
    """Opens the ``MatchIndex`` only when something matches: a node that only publishes or
    serves never pays for loading it, and then nothing needs to keep it current."""

    def __init__(self, store: Store, snapshot_folder: Path) -> None:
        self._store = store
        self._snapshot_folder = snapshot_folder
        self._index: MatchIndex | None = None

    @property
    def index(self) -> MatchIndex:
        if self._index is None:
            self._index = MatchIndex(self._store, self._snapshot_folder)
        return self._index

    @property
    def loaded(self) -> MatchIndex | None:
        """The index if it is open, else None (then no write needs to update it)."""
        return self._index

    def follow(self) -> None:
        """Bring an open index up to the store after a write."""
        if self._index is not None:
            self._index.refresh()
