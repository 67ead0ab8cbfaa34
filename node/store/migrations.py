"""Named schema migrations, applied in order and recorded in ``_migrations``.

A migration is never edited once released: a later change is a new named migration, so every
node's database can say exactly which steps built it.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]


def _m001_initial(db: sqlite_utils.Database) -> None:
    db.create_table(
        "origins",
        {"name": str, "verifier_key": str, "is_self": int, "added_ms": int},
        pk="name",
        not_null={"verifier_key", "is_self", "added_ms"},
        strict=True,
    )
    # Entries keep the origin's exact bytes; `leaf` is SHA-256(0x00 || body), stored so proofs and
    # roots never rehash the whole log.
    db.create_table(
        "entries",
        {"origin": str, "idx": int, "leaf": bytes, "body": bytes, "kind": str, "create_ms": int},
        pk=("origin", "idx"),
        not_null={"leaf", "body", "kind", "create_ms"},
        strict=True,
    )
    # Every checkpoint ever held, with the Merkle frontier at that size so the next append costs
    # O(log n) and never reads the old leaves.
    db.create_table(
        "checkpoints",
        {
            "origin": str,
            "size": int,
            "root": bytes,
            "note": str,
            "frontier": bytes,
            "received_ms": int,
        },
        pk=("origin", "size"),
        not_null={"root", "note", "frontier", "received_ms"},
        strict=True,
    )
    # One row per signal carried by an ADD. `row` is dense per type and is the in-memory index's
    # position for that hash, which is why the index needs no id map of its own.
    db.create_table(
        "signals",
        {
            "type": str,
            "row": int,
            "value": bytes,
            "quality": int,
            "origin": str,
            "idx": int,
            "retracted": int,
        },
        pk=("type", "row"),
        not_null={"value", "origin", "idx", "retracted"},
        strict=True,
    )
    db.table("signals").create_index(["origin", "idx"])
    db.create_table(
        "retractions",
        {"origin": str, "target_idx": int, "idx": int},
        pk=("origin", "target_idx"),
        not_null={"idx"},
        strict=True,
    )
    db.create_table(
        "opinions",
        {
            "origin": str,
            "idx": int,
            "target_origin": str,
            "target_idx": int,
            "target_leaf": bytes,
            "verdict": str,
            "agrees": int,
        },
        pk=("origin", "idx"),
        not_null={"target_origin", "target_idx", "target_leaf", "verdict", "agrees"},
        strict=True,
    )
    db.table("opinions").create_index(["target_origin", "target_idx"])


def _m002_federation(db: sqlite_utils.Database) -> None:
    # Trusting a member (accepting its signed entries from any relay) and peering with a node
    # (connecting to it) are separate decisions, hence two tables.
    db.create_table(
        "members",
        {
            "origin": str,
            "tls_certificate": str,
            "tls_fingerprint": str,
            "address": str,
            "trusted": int,
            "changed_ms": int,
        },
        pk="origin",
        not_null={"tls_certificate", "tls_fingerprint", "address", "trusted", "changed_ms"},
        strict=True,
    )
    # Every trust change, so an index in another process can follow removals and re-adds.
    db.create_table(
        "trust_events",
        {"id": int, "origin": str, "trusted": int, "at_ms": int},
        pk="id",
        not_null={"origin", "trusted", "at_ms"},
        strict=True,
    )
    db.create_table(
        "peers",
        {"name": str, "address": str, "added_ms": int},
        pk="name",
        not_null={"address", "added_ms"},
        strict=True,
    )
    # Entries received from a peer but not yet verified against a signed root: invisible to
    # everything but the sync that staged them, so an interrupted sync resumes without
    # fetching them again and without exposing anything unverified.
    db.create_table(
        "staged_entries",
        {"origin": str, "peer": str, "idx": int, "body": bytes},
        pk=("origin", "peer", "idx"),
        not_null={"body"},
        strict=True,
    )
    db.create_table(
        "evidence",
        {
            "id": int,
            "origin": str,
            "kind": str,
            "first_note": str,
            "second_note": str,
            "detail": str,
            "peer": str,
            "detected_ms": int,
        },
        pk="id",
        not_null={"origin", "kind", "first_note", "second_note", "detail", "detected_ms"},
        strict=True,
    )
    db.create_table(
        "halted_origins",
        {"origin": str, "evidence_id": int, "halted_ms": int},
        pk="origin",
        not_null={"evidence_id", "halted_ms"},
        strict=True,
    )
    db.create_table(
        "peer_stats",
        {
            "peer": str,
            "last_success_ms": int,
            "last_error": str,
            "last_error_ms": int,
            "received": int,
            "rejected": int,
            "reasons": str,
        },
        pk="peer",
        not_null={"received", "rejected", "reasons"},
        strict=True,
    )


MIGRATIONS: tuple[tuple[str, Migration], ...] = (
    ("001_initial", _m001_initial),
    ("002_federation", _m002_federation),
)
