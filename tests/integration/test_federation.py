"""Three members in a line, A - B - C: C trusts A but peers only with B.

Real nodes serving over real gRPC with real mutual TLS on 127.0.0.1, real keys, real SQLite and
real images. D is a fourth origin that B trusts and C does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.hashing import parse_signal
from node.log.entry import Labels
from node.results import QueryResult
from tests.support.fednet import Member, peer, trust, verify_bundle

A, B, C, D = "node-a.example", "node-b.example", "node-c.example", "node-d.example"
LABELS = Labels(entity="Example Front", content_type="image", behaviours=("glorification",))


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Member]]:
    folder = tmp_path_factory.mktemp("line")
    a, b, c, d = (Member.create(folder, name) for name in (A, B, C, D))
    # B peers with A, C and D (each side accepts the other's card); C trusts A and peers only
    # with B; C knows nothing of D.
    peer(b, a)
    peer(b, c)
    peer(b, d)
    peer(c, b)
    trust(c, a)
    members = {A: a, B: b, C: c, D: d}
    for m in members.values():
        m.start()
    yield members
    for m in members.values():
        m.stop()


def _origins(results: list[QueryResult]) -> list[tuple[str, int]]:
    return [(m.origin, m.entry_index) for r in results for m in r.matches]


def test_a_entries_reach_c_through_b_with_a_provenance(
    line: dict[str, Member], sample_files: dict[str, Path], tmp_path: Path
) -> None:
    a, b, c = line[A], line[B], line[C]
    published = a.publisher.publish_files(
        [sample_files["original-0"], sample_files["original-1"]], LABELS
    )
    indices = [e.entry_index for e in published.entries]

    # Before any sync, C matches nothing.
    assert _origins(c.matcher.match_files([sample_files["copy-0-cropped"]])) == []

    report_b = b.sync_one(A)
    assert report_b.ok, report_b.problems()
    assert report_b.received == published.checkpoint_size
    # C peers only with B: everything of A comes through B.
    (report_c,) = c.sync()
    assert report_c.peer == B and report_c.ok, report_c.problems()
    assert {o.origin: o.imported for o in report_c.origins}[A] == published.checkpoint_size

    # C matches transformed copies of A's images, with origin A and A's labels.
    for seed, index in zip((0, 1), indices, strict=True):
        for copy in ("resized", "jpeg", "cropped", "colour-shifted"):
            name = f"copy-{seed}-{copy}"
            results = c.matcher.match_files([sample_files[name]])
            assert (A, index) in _origins(results), name
            match = next(m for m in results[0].matches if m.origin == A)
            assert match.labels == LABELS

    # C's checkpoint of A is A's own signed checkpoint, byte for byte.
    assert c.reader.checkpoint(A).note == a.reader.checkpoint().note

    # The provenance bundle from C verifies offline with A's verifier key alone.
    key = a.do(lambda node: str(node.verifier))
    for index in indices:
        done = verify_bundle(c.reader.bundle(A, index).to_json(), key, tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"OK: {A} entry {index} ")
    # ... and with B's key it does not.
    b_key = b.do(lambda node: str(node.verifier))
    assert verify_bundle(c.reader.bundle(A, indices[0]).to_json(), b_key, tmp_path).returncode == 1

    # Syncing again fetches nothing.
    again = c.sync_one(B)
    assert again.ok and again.received == 0 and again.fetched == 0


def test_c_stores_nothing_of_an_origin_it_does_not_trust(line: dict[str, Member]) -> None:
    b, c, d = line[B], line[C], line[D]
    d.publisher.import_hash_list([f"md5 {i:032x}" for i in range(1, 51)], Labels(entity="D only"))
    assert b.sync_one(D).ok
    assert b.count("entries", D) == 50  # B trusts D and holds its log ...

    report = c.sync_one(B)  # ... and relays it to C, which does not trust D
    assert report.ok, report.problems()
    assert D in report.untrusted_skipped
    assert c.count("entries", D) == 0
    assert c.count("verified_heads", D) == 0
    assert c.count("checkpoints", D) == 0
    assert c.count("signals", D) == 0
    (result,) = c.matcher.match_signals([parse_signal(f"md5:{7:032x}")])
    assert result.matches == ()


def test_retraction_at_a_stops_matches_at_c(
    line: dict[str, Member], sample_files: dict[str, Path]
) -> None:
    a, b, c = line[A], line[B], line[C]
    published = a.publisher.publish_files([sample_files["original-2"]], LABELS)
    (entry,) = published.entries
    b.sync_one(A)
    c.sync_one(B)
    copy = sample_files["copy-2-cropped"]
    assert (A, entry.entry_index) in _origins(c.matcher.match_files([copy]))

    a.publisher.retract(entry.entry_index, "false positive")
    assert b.sync_one(A).ok
    report = c.sync_one(B)
    assert report.ok and report.received == 1
    assert (A, entry.entry_index) not in _origins(c.matcher.match_files([copy]))
    # The ADD stays in C's copy of the log, marked retracted.
    line_ = next(x for x in c.reader.log(A) if x.entry_index == entry.entry_index)
    assert line_.retracted
