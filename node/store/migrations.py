"""Named schema migrations, applied in order and recorded in ``_migrations``.

A migration is never edited once released: a later change is a new named migration, so every
node's database can say exactly which steps built it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

# Each migration gets sqlite_utils (imported only when one is due: node/store/repository.py).
Migration = Callable[["sqlite_utils.Database"], None]


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


def _m003_witness_audit(db: sqlite_utils.Database) -> None:
    # A witness key per origin (cosignatures, C2SP type 0x04); NULL for cards that carry none.
    db.execute("ALTER TABLE origins ADD COLUMN witness_key TEXT")
    # Cosignatures held on checkpoints this node stores: only verified ones, only on a root
    # equal to the stored checkpoint's, so a row is a fact about that checkpoint.
    db.create_table(
        "cosignatures",
        {
            "origin": str,
            "size": int,
            "witness": str,
            "key_id": bytes,
            "timestamp": int,
            "line": str,
            "received_ms": int,
        },
        pk=("origin", "size", "witness"),
        not_null={"key_id", "timestamp", "line", "received_ms"},
        strict=True,
    )
    # What this node itself last cosigned per origin: the rule "never two roots for one size,
    # never a smaller size after a larger" is checked against this row under the write lock.
    db.create_table(
        "witness_state",
        {"origin": str, "size": int, "root": bytes, "cosigned_ms": int},
        pk="origin",
        not_null={"size", "root", "cosigned_ms"},
        strict=True,
    )
    # Auditors are kept apart from origins on purpose: nothing can ever make one an origin.
    db.create_table(
        "auditors",
        {
            "name": str,
            "witness_key": str,
            "tls_certificate": str,
            "tls_fingerprint": str,
            "added_ms": int,
        },
        pk="name",
        not_null={"tls_certificate", "tls_fingerprint", "added_ms"},
        strict=True,
    )
    db.create_table(
        "audit_reads",
        {"id": int, "auditor": str, "method": str, "request": str, "at_ms": int},
        pk="id",
        not_null={"auditor", "method", "request", "at_ms"},
        strict=True,
    )
    # Operator decisions an auditor may ask about (member reset after evidence, for example).
    db.create_table(
        "operator_log",
        {"id": int, "action": str, "subject": str, "detail": str, "at_ms": int},
        pk="id",
        not_null={"action", "subject", "detail", "at_ms"},
        strict=True,
    )


def _m004_staged_groups(db: sqlite_utils.Database) -> None:
    # Staged (unverified) entries in groups: one row per group of consecutive entries received
    # from one peer, the bodies end to end and their lengths (uint32 little-endian) beside them.
    # A full sync of a million entries then writes and deletes ~120 rows instead of a million.
    db.create_table(
        "staged_groups",
        {
            "origin": str,
            "peer": str,
            "start": int,
            "count": int,
            "lengths": bytes,
            "bodies": bytes,
        },
        pk=("origin", "peer", "start"),
        not_null={"count", "lengths", "bodies"},
        strict=True,
    )
    # What was staged one row per entry moves over, a contiguous run per group.
    rows = db.execute(
        "SELECT origin, peer, idx, body FROM staged_entries ORDER BY origin, peer, idx"
    )
    group: list[bytes] = []
    key: tuple[str, str, int] | None = None

    def flush() -> None:
        if key is not None and group:
            db.execute(
                "INSERT INTO staged_groups VALUES (?,?,?,?,?,?)",
                [
                    *key,
                    len(group),
                    struct.pack(f"<{len(group)}I", *map(len, group)),
                    b"".join(group),
                ],
            )

    for origin, peer, idx, body in rows.fetchall():
        if key is None or (origin, peer) != key[:2] or idx != key[2] + len(group):
            flush()
            key, group = (origin, peer, idx), []
        group.append(bytes(body))
    flush()
    db.execute("DROP TABLE staged_entries")
    # One (origin, peer, idx) row per staged entry, as the table had: for counting and looking.
    db.execute(
        "CREATE VIEW staged_entries AS WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL "
        "SELECT i + 1 FROM n WHERE i + 1 < (SELECT MAX(count) FROM staged_groups)) "
        "SELECT g.origin AS origin, g.peer AS peer, g.start + n.i AS idx "
        "FROM staged_groups g JOIN n ON n.i < g.count"
    )


def _m005_verified_heads(db: sqlite_utils.Database) -> None:
    # Entries are now verified batch by batch as they arrive (each batch carries a consistency
    # proof into the origin's signed tree) and stored at once, so nothing unverified is staged
    # any more. What a signed checkpoint does not cover yet is described by the origin's head:
    # how many entries are held, the Merkle frontier at that size, and the signed note of the
    # (larger) checkpoint they were proven against. Staged rows were never verified: dropped,
    # they are simply fetched again.
    db.create_table(
        "verified_heads",
        {"origin": str, "size": int, "frontier": bytes, "target_note": str, "updated_ms": int},
        pk="origin",
        not_null={"size", "frontier", "target_note", "updated_ms"},
        strict=True,
    )
    db.execute("DROP VIEW IF EXISTS staged_entries")
    db.execute("DROP TABLE IF EXISTS staged_groups")


def _m006_peer_health(db: sqlite_utils.Database) -> None:
    # One row per peer: how its latest sync round ended and when the next is due, so status
    # shows a slow or lying peer and a restarted node keeps backing off from it.
    db.create_table(
        "peer_health",
        {
            "peer": str,
            "state": str,
            "reason": str,
            "consecutive_failures": int,
            "next_attempt_ms": int,
            "last_round_ms": int,
            "last_round_s": float,
        },
        pk="peer",
        not_null={"state", "consecutive_failures", "last_round_ms", "last_round_s"},
        strict=True,
    )


def own_signal_index_sql(origin: str) -> str:
    """A partial index of this node's own signals by value: publishing looks up whether a
    signal is already published live (issue 9, idempotent publishing) without scanning.

    Partial on purpose: every other origin's signals (most of the table, and every row a sync
    inserts) are left out, so importing costs nothing more. SQLite uses a partial index only
    when the query repeats its WHERE term, hence the literal: origin names are checked
    lower-case DNS names, and the quote is doubled anyway.
    """
    literal = origin.replace("'", "''")
    return (
        "CREATE INDEX IF NOT EXISTS signals_own_by_value ON signals (type, value) "
        f"WHERE origin = '{literal}'"
    )


def _m007_published_once(db: sqlite_utils.Database) -> None:
    # A fresh database has no own origin yet: `hashfed init` creates the index right after
    # adding it (Store.index_own_signals).
    row = db.execute("SELECT name FROM origins WHERE is_self = 1").fetchone()
    if row is not None:
        db.execute(own_signal_index_sql(row[0]))


MIGRATIONS: tuple[tuple[str, Migration], ...] = (
    ("001_initial", _m001_initial),
    ("002_federation", _m002_federation),
    ("003_witness_audit", _m003_witness_audit),
    ("004_staged_groups", _m004_staged_groups),
    ("005_verified_heads", _m005_verified_heads),
    ("006_peer_health", _m006_peer_health),
    ("007_published_once", _m007_published_once),
)
