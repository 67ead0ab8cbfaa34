"""Members, auditors and peers: whose entries this node trusts, who may call it, whom it calls.

A caller of the peer server is named by its TLS certificate, so no two cards may pin one; an
auditor's name can never become an origin's, nor the reverse."""

from __future__ import annotations

import json
import logging

from node.cards import MemberCard
from node.errors import InvalidInputError, NotFoundError
from node.home import HomePaths
from node.log.keys import VerifierKey
from node.service.index_handle import IndexHandle
from node.store.rows import AuditorRow, MemberRow, PeerRow, now_ms
from node.store.store import Store

log = logging.getLogger("hashfed.node")


class Members:
    """The cards this node holds and the peers it syncs with."""

    def __init__(
        self, store: Store, paths: HomePaths, verifier: VerifierKey, index: IndexHandle
    ) -> None:
        self._store = store
        self._paths = paths
        self._verifier = verifier
        self._origin = verifier.name
        self._index = index

    def add(self, card_json: str | bytes) -> MemberCard:
        """Trust an origin: accept its signed entries from whoever relays them."""
        card = MemberCard.from_json(card_json)
        if card.origin == self._origin:
            raise InvalidInputError(f"{card.origin} is this node's own card")
        if card.is_auditor:
            return self._add_auditor(card)
        with self._store.transaction():
            self._check_certificate_unshared(card)
            if any(a.name == card.origin for a in self._store.audit.auditors()):
                raise InvalidInputError(
                    f"{card.origin} is an auditor here; an auditor can never become an origin. "
                    "Remove the auditor first if this name really is a member now"
                )
            known = {o.name: o for o in self._store.members.origins()}.get(card.origin)
            if (
                known is not None
                and known.verifier_key != str(card.verifier_key)
                and self._store.log.latest_checkpoint(card.origin) is not None
            ):
                raise InvalidInputError(
                    f"{card.origin} is already known with key {known.verifier_key}, and entries "
                    f"signed by it are stored; this card carries {card.verifier_key}. Refusing "
                    "to switch keys silently (key rotation is a future KEY_ROTATE entry)"
                )
            self._store.members.put_member(
                MemberRow(
                    card.origin,
                    str(card.verifier_key),
                    card.tls_certificate,
                    card.tls_fingerprint,
                    card.address,
                    trusted=True,
                )
            )
            if card.witness_key is not None:
                self._store.witnessing.set_witness_key(card.origin, str(card.witness_key))
        self._index.follow()
        return card

    def _check_certificate_unshared(self, card: MemberCard) -> None:
        """Refuse a card whose TLS certificate another card already pins: the peer server
        names a caller by its certificate, so a shared one would misidentify callers."""
        from node.tls import certificate_fingerprint  # cryptography.x509: adding a card only

        if card.tls_fingerprint == certificate_fingerprint(self._paths.tls_cert.read_bytes()):
            raise InvalidInputError(
                f"the card for {card.origin} carries this node's own TLS certificate "
                f"({card.tls_fingerprint}); every member needs its own"
            )
        holder = self._store.members.caller_for_fingerprint(card.tls_fingerprint)
        if holder is not None and holder[0] != card.origin:
            name, role = holder
            raise InvalidInputError(
                f"the card for {card.origin} carries TLS certificate {card.tls_fingerprint}, "
                f"which the {role} card of {name} already pins; callers are identified by "
                f"their certificate, so two cards cannot share one. Ask {card.origin} for a "
                f"card with its own certificate (or remove {name} first if it was replaced)"
            )

    def _add_auditor(self, card: MemberCard) -> MemberCard:
        with self._store.transaction():
            self._check_certificate_unshared(card)
            if any(o.name == card.origin for o in self._store.members.origins()):
                raise InvalidInputError(
                    f"{card.origin} is known here as an origin; refusing to make it an auditor "
                    "(an auditor card must never share a name with a log whose entries we hold)"
                )
            self._store.audit.put_auditor(
                AuditorRow(
                    card.origin,
                    None if card.witness_key is None else str(card.witness_key),
                    card.tls_certificate,
                    card.tls_fingerprint,
                    now_ms(),
                )
            )
            self._store.audit.add_operator_log("auditor added", card.origin, card.tls_fingerprint)
        return card

    def remove(self, origin: str) -> None:
        """Stop trusting an origin: its entries stop matching and are no longer relayed.

        The log rows stay for audit; peering with that node ends too, since its certificate is
        no longer pinned.
        """
        if any(a.name == origin for a in self._store.audit.auditors()):
            with self._store.transaction():
                self._store.audit.delete_auditor(origin)
                self._store.audit.add_operator_log("auditor removed", origin, "")
            return
        member = self._member(origin)
        with self._store.transaction():
            self._store.members.put_member(
                MemberRow(
                    member.origin,
                    member.verifier_key,
                    member.tls_certificate,
                    member.tls_fingerprint,
                    member.address,
                    trusted=False,
                )
            )
            self._store.members.delete_peer(origin)
        self._index.follow()

    def known(self) -> list[MemberRow]:
        """Every member card held, trusted or no longer trusted."""
        return self._store.members.members()

    def auditors(self) -> list[AuditorRow]:
        return self._store.audit.auditors()

    def witness_keys(self) -> dict[str, str]:
        """Witness vkeys of this node and of every member whose card carried one."""
        return self._store.witnessing.witness_keys()

    def _member(self, origin: str) -> MemberRow:
        for member in self._store.members.members():
            if member.origin == origin:
                return member
        raise NotFoundError(f"{origin!r} is not a member this node knows (see `member list`)")

    def add_peer(self, card_json: str | bytes) -> MemberCard:
        """Trust the card's origin and also connect to its node at the card's address."""
        if MemberCard.from_json(card_json).is_auditor:
            raise InvalidInputError(
                "this is an auditor's card: auditors read from nodes but serve nothing, so "
                "they cannot be peers. Use `member add` to grant it read access"
            )
        card = self.add(card_json)
        with self._store.transaction():
            self._store.members.put_peer(card.origin, card.address)
        return card

    def remove_peer(self, name: str) -> None:
        with self._store.transaction():
            if not self._store.members.delete_peer(name):
                raise NotFoundError(f"{name!r} is not a peer of this node (see `peer list`)")

    def peers(self) -> list[PeerRow]:
        return self._store.members.peers()

    def pinned_certificates(self) -> list[bytes]:
        """TLS certificates of trusted members and auditors: exactly who may connect to the
        peer server."""
        members = [m.tls_certificate.encode() for m in self._store.members.members() if m.trusted]
        return members + [a.tls_certificate.encode() for a in self._store.audit.auditors()]

    def caller_for_fingerprint(self, fingerprint: str) -> tuple[str, str] | None:
        """(name, "member" or "auditor") of who holds this certificate, if anyone may call."""
        return self._store.members.caller_for_fingerprint(fingerprint.lower())

    def trusted_keys(self) -> dict[str, VerifierKey]:
        """Verifier keys of the trusted members (this node's own origin excluded)."""
        return {
            m.origin: VerifierKey.parse(m.verifier_key)
            for m in self._store.members.members()
            if m.trusted
        }

    def origin_key(self, origin: str) -> VerifierKey:
        """The key ``origin`` signs with: ours, or a trusted member's."""
        if origin == self._origin:
            return self._verifier
        keys = self.trusted_keys()
        if origin not in keys:
            raise NotFoundError(f"{origin!r} is not a trusted member of this node")
        return keys[origin]

    def reset(self, origin: str, reason: str = "") -> int:
        """Resume importing ``origin`` after its evidence was dealt with; logged.

        The evidence stays. Our verified copy of its log stays too, so the next sync accepts
        only a history consistent with what we already hold. Returns the operator-log id.
        """
        self._member(origin)
        with self._store.transaction():
            if not self._store.audit.clear_halt(origin):
                raise InvalidInputError(f"{origin} is not halted; nothing to reset")
            ids = [e.id for e in self._store.audit.evidence() if e.origin == origin]
            entry = self._store.audit.add_operator_log(
                "member reset",
                origin,
                json.dumps({"reason": reason, "evidence": ids}, sort_keys=True),
            )
        log.info("member reset: import from %s resumed by the operator", origin)
        return entry
