"""The node facade: opens or creates a home and holds one service per use case.

Every flow of DESIGN.md starts at one of its services (node/service/): ``publisher`` (ADD,
RETRACT, OPINION), ``matcher``, ``reader`` (logs and proofs), ``members`` (cards and peers),
``importer`` (other origins' entries), ``witness``, ``audit``; ``status()`` sums them up.
"""

from __future__ import annotations

from pathlib import Path

from node.home import Config, HomePaths, Role
from node.log.cosignature import CosignerKey, WitnessKey
from node.log.keys import SignerKey, VerifierKey
from node.service import own_log_check
from node.service.audit import Audit
from node.service.hashing import MediaHasher
from node.service.identity import Identity, create_identity, identity_card, open_identity
from node.service.importing import Importer
from node.service.index_handle import IndexHandle
from node.service.index_snapshot import FOLDER_NAME as SNAPSHOT_FOLDER
from node.service.match_index import MatchIndex
from node.service.matching import Matcher
from node.service.members import Members
from node.service.own_log_check import OwnLogState
from node.service.publishing import Publisher, refuse_auditor
from node.service.reading import Reader
from node.service.status import NodeStatus, node_status
from node.service.tree_cache import TreeCache
from node.service.witnessing import Witness
from node.store.store import Store


class Node:
    """One member's node, opened on its home folder."""

    def __init__(
        self,
        paths: HomePaths,
        config: Config,
        signer: SignerKey,
        cosigner: CosignerKey,
        store: Store,
    ) -> None:
        self.paths = paths
        self.config = config
        self.signer = signer
        self.cosigner = cosigner
        self.store = store
        self.indexes = IndexHandle(store, paths.root / SNAPSHOT_FOLDER)
        self.trees = TreeCache(store)
        self.hasher = MediaHasher(config)
        self.witness = Witness(store, config.origin, cosigner, config)
        self.members = Members(store, paths, signer.verifier(), self.indexes)
        self.publisher = Publisher(
            store,
            signer,
            paths,
            self.hasher,
            self.indexes,
            lambda latest: own_log_check.guard(self, latest),
            is_auditor=self.is_auditor,
        )
        self.matcher = Matcher(
            store, paths.root, config.origin, self.hasher, self.indexes, self.witness
        )
        self.reader = Reader(store, paths.root, config.origin, self.trees, self.witness)
        self.importer = Importer(
            store,
            paths.root,
            config.origin,
            is_auditor=self.is_auditor,
            index=self.indexes,
            trees=self.trees,
            witness=self.witness,
            members=self.members,
            reader=self.reader,
        )
        self.audit = Audit(store, config.origin, self.witness)

    # -- life cycle ----------------------------------------------------------------------------

    @classmethod
    def init(
        cls, home: Path, origin: str, *, peer_address: str | None = None, auditor: bool = False
    ) -> Node:
        """Create a new identity in ``home``; refuse if any part of one exists already.

        ``auditor=True`` makes a read-only identity (docs/audit.md): its card grants read
        access to a node's federation service; it never publishes, and nothing it signs is
        ever stored as an entry by anyone.
        """
        return cls._of(create_identity(home, origin, peer_address=peer_address, auditor=auditor))

    @classmethod
    def open(cls, home: Path) -> Node:
        node = cls._of(open_identity(home))
        if not node.is_auditor:
            # Never raises: read-only commands must work on a node that may not publish.
            own_log_check.on_open(node)
        return node

    @classmethod
    def _of(cls, identity: Identity) -> Node:
        i = identity
        return cls(i.paths, i.config, i.signer, i.cosigner, i.store)

    def close(self) -> None:
        if (index := self.indexes.loaded) is not None:
            index.close()  # joins a fold in progress on the index's worker thread
        self.store.close()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def origin(self) -> str:
        return self.config.origin

    @property
    def verifier(self) -> VerifierKey:
        return self.signer.verifier()

    @property
    def witness_key(self) -> WitnessKey:
        return self.cosigner.verifier()

    @property
    def is_auditor(self) -> bool:
        return self.config.role == Role.AUDITOR

    def _require_member(self, what: str) -> None:
        refuse_auditor(self.origin, self.is_auditor, what)

    @property
    def index(self) -> MatchIndex:
        """The match index, opened on first use."""
        return self.indexes.index

    def identity_card(self) -> dict[str, str]:
        """What another member needs to trust this origin and to peer with this node."""
        return identity_card(self.paths, self.config, self.signer, self.cosigner)

    def own_log_state(self) -> OwnLogState:
        """The own log in the database against what this node signed (own_log_check)."""
        return own_log_check.state(self)

    def status(self) -> NodeStatus:
        """Peers, origins, evidence, witness policy, store health and the own log."""
        return node_status(self)
