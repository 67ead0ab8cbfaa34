"""A member's validly signed but odd entries are stored as signed and never break a sync.

Mallory runs a real node (its own identity, a real ``FederationService`` over mutual TLS) whose
log holds, besides ordinary ADDs, entries its honest software would never publish but its key
did sign: a RETRACT of index 2^63, an OPINION on index 2^64-1, a RETRACT of a later index, of
an OPINION and of an ADD already retracted, an opinion on an entry nobody holds, and an ADD
carrying a field from the future. Mallory also relays an honest origin, Alice. Victor syncs
from Mallory alone with the real ``hashfed sync`` in a process of its own: it stores every
entry of both logs, ignores the effects that cannot apply, says why in ``hashfed log``, and
exits 0 without a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from node.core import Node
from node.hashing import ComputedSignal, Signal
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.entry import Add, Entry, EntryRef, Labels, Opinion, Retract, Verdict, encode_entry
from node.log.merkle import Frontier, leaf_hash
from node.store.rows import StoredCheckpoint
from tests.support.fednet import CLI_CHILD, ROOT, Member, cli_subprocess, peer, trust

A, M, V = "alice.example", "mallory.example", "victor.example"


def _md5(tag: str, i: int) -> Signal:
    return Signal("md5", bytes.fromhex(f"{i:08x}") + tag.encode().ljust(12, b"-")[:12])


def _add(origin: str, signal: Signal) -> bytes:
    return encode_entry(Entry(origin, 1_700_000_000_000, Add((ComputedSignal(signal, None),))))


def sign_and_append(home: Path, bodies: list[bytes]) -> None:
    """Append ``bodies`` to the node's own log under a new checkpoint signed with its own key,
    storing the entries only (no derived rows): what a member running other software would
    serve. The node must not be serving."""
    with Node.open(home) as node:
        store, origin = node.store, node.origin
        with store.transaction():
            latest = store.log.latest_checkpoint(origin)
            frontier = (
                Frontier.empty()
                if latest is None
                else Frontier.from_bytes(latest.size, latest.frontier)
            )
            leaves = [leaf_hash(body) for body in bodies]
            rows = [
                (frontier.size + i, leaf, body, "ADD", 0)
                for i, (leaf, body) in enumerate(zip(leaves, bodies, strict=True))
            ]
            store.log.append_chunk(origin, rows, [], [])
            extended = frontier.extend(leaves)
            signed = SignedCheckpoint.sign(
                Checkpoint(origin, extended.size, extended.root()), node.signer
            )
            store.log.put_checkpoint(
                StoredCheckpoint(
                    origin,
                    extended.size,
                    extended.root(),
                    signed.text(),
                    extended.to_bytes(),
                    int(time.time() * 1000),
                )
            )


def test_odd_signed_entries_are_stored_and_ignored_where_they_cannot_apply(
    tmp_path: Path,
) -> None:
    a, m, v = (Member.create(tmp_path, name) for name in (A, M, V))
    peer(m, a)  # Mallory relays Alice
    peer(v, m)  # Victor connects only to Mallory
    trust(v, a)
    a.publisher.publish_signals([ComputedSignal(_md5("alice", 0), None)], Labels(entity="e"))
    a.publisher.publish_signals([ComputedSignal(_md5("alice", 1), None)], Labels(entity="e"))
    # Mallory's entries 0 and 1: an ordinary ADD and its retraction.
    m.publisher.publish_signals([ComputedSignal(_md5("mallory", 0), None)], Labels(entity="m"))
    m.publisher.retract(0, "honest retraction")
    a_leaf = a.do(lambda node: node.store.log.entry(A, 1)[1])
    future_add = _add(M, _md5("mallory", 9)) + b"\x98\x06\x01"  # field 99 = 1, unknown here
    odd = [
        encode_entry(Entry(M, 2, Retract(2**63, "beyond int64"))),  # 2
        encode_entry(  # 3
            Entry(M, 3, Opinion(EntryRef(A, 2**64 - 1, bytes(32)), Verdict.FALSE_POSITIVE, False))
        ),
        encode_entry(Entry(M, 4, Retract(1_000, "a later index"))),  # 4
        encode_entry(Entry(M, 5, Retract(3, "an opinion, not an ADD"))),  # 5
        encode_entry(Entry(M, 6, Retract(0, "already retracted"))),  # 6
        encode_entry(  # 7: an entry nobody holds
            Entry(M, 7, Opinion(EntryRef(A, 50, bytes(32)), Verdict.TRUE_POSITIVE, True))
        ),
        future_add,  # 8
        encode_entry(  # 9: an ordinary opinion on Alice's entry 1
            Entry(M, 8, Opinion(EntryRef(A, 1, a_leaf), Verdict.TRUE_POSITIVE, True))
        ),
    ]
    sign_and_append(m.home, odd)
    a.start()
    m.start()
    try:
        assert m.sync_one(A).ok
        sync = cli_subprocess(v.home, "sync", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, sync_err = sync.communicate(timeout=120)
    finally:
        m.stop()
        a.stop()
    assert sync.returncode == 0, sync_err
    assert "Traceback" not in sync_err, sync_err
    # Every entry of both logs is stored exactly as signed; the checkpoints are the origins'.
    assert v.count("entries", M) == 10
    assert v.count("entries", A) == 2
    assert v.reader.checkpoint(M).note == m.reader.checkpoint().note
    assert v.reader.checkpoint(A).note == a.reader.checkpoint().note
    bodies = [
        row[0] for row in v.query("SELECT body FROM entries WHERE origin = ? ORDER BY idx", M)
    ]
    assert bodies[2:] == odd
    # Only the honest retraction took effect; the opinion that can apply is counted.
    assert v.query("SELECT target_idx, idx FROM retractions WHERE origin = ?", M) == [(0, 1)]
    assert v.matcher.match_signals([_md5("mallory", 0)])[0].matches == ()
    (future,) = v.matcher.match_signals([_md5("mallory", 9)])[0].matches
    assert (future.origin, future.entry_index) == (M, 8)
    (alice1,) = v.matcher.match_signals([_md5("alice", 1)])[0].matches
    assert alice1.opinions.true_positive == 1

    listed = subprocess.run(
        [*_hashfed_cmd(), "log", "--origin", M, "--json", "--home", str(v.home)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    ignored = {line["entry_index"]: line["ignored"] for line in json.loads(listed.stdout)}
    assert ignored[0] is None and ignored[1] is None and ignored[9] is None
    assert ignored[2] == "ignored: retracts index 9223372036854775808, beyond the log"
    assert ignored[3] == (f"ignored: opinion on {A} index 18446744073709551615, beyond any log")
    assert ignored[4] == "ignored: retracts index 1000, not an earlier entry"
    assert ignored[5] == "ignored: retracts entry 3, an OPINION, not an ADD"
    assert ignored[6] == "ignored: entry 0 is already retracted by entry 1"
    assert ignored[7] == f"no effect: opinion on {A} entry 50, which this node does not hold"
    assert ignored[8] == "kept as signed: fields this version does not know (99)"

    human = subprocess.run(
        [*_hashfed_cmd(), "log", "--origin", M, "--home", str(v.home)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"},
    )
    assert human.returncode == 0, human.stderr
    assert "ignored: retracts index 9223372036854775808, beyond the log" in human.stdout


def _hashfed_cmd() -> list[str]:
    return [sys.executable, "-c", CLI_CHILD.format(root=str(ROOT))]
