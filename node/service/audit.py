"""What auditors and operators read back: exports, evidence files, who read what, and the
operator's own log (docs/audit.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from node.errors import NotFoundError
from node.service.audit_export import (
    OriginExport,
    entry_records,
    evidence_document,
    prepare_folder,
    write_lines,
    write_manifest,
)
from node.service.witnessing import Witness
from node.store.rows import AuditReadRow, EvidenceRow, OperatorLogRow
from node.store.store import Store


class Audit:
    """Exports and the records an audit reads."""

    def __init__(self, store: Store, origin: str, witness: Witness) -> None:
        self._store = store
        self._origin = origin
        self._witness = witness

    def export(self, folder: Path, origin: str | None = None) -> list[OriginExport]:
        """Write every entry, checkpoint and cosignature held for ``origin`` (or every origin
        held) to ``folder``, in the hashfed-export/v1 format of docs/audit.md."""
        names = [origin] if origin is not None else [o.name for o in self._store.members.origins()]
        rows = {o.name: o for o in self._store.members.origins()}
        for name in names:
            if name not in rows:
                raise NotFoundError(f"origin {name!r} is not known to this node")
        prepare_folder(folder)
        witness_keys = self._store.witnessing.witness_keys()
        done = []
        for name in names:
            # Bounded by the newest checkpoint read first, so a publish racing the export
            # cannot leave entries without a checkpoint covering them.
            latest = self._store.log.latest_checkpoint(name)
            size = 0 if latest is None else latest.size
            sub = folder / name
            sub.mkdir()
            bodies = ((r.idx, r.body) for r in self._store.log.entries(name, 0, size))
            entries = write_lines(sub / "entries.jsonl", entry_records(bodies))
            checkpoints = write_lines(
                sub / "checkpoints.jsonl",
                ({"size": n, "note": note} for n, note in self._all_notes(name, size)),
            )
            cosigs = sum(
                len(v) for n, v in self._store.witnessing.cosignatures(name).items() if n <= size
            )
            done.append(
                OriginExport(
                    name,
                    rows[name].verifier_key,
                    witness_keys.get(name),
                    entries,
                    checkpoints,
                    cosigs,
                )
            )
        write_manifest(folder, self._origin, done, witness_keys)
        return done

    def _all_notes(self, origin: str, size: int) -> Iterator[tuple[int, str]]:
        """Every checkpoint of ``origin`` up to ``size`` with its cosignatures, read in chunks."""
        start = 0
        while chunk := self._witness.notes(origin, start, limit=1000):
            for n, note in chunk:
                if n > size:
                    return
                yield n, note
            start = chunk[-1][0] + 1

    def evidence(self) -> list[EvidenceRow]:
        return self._store.audit.evidence()

    def evidence_file(self, evidence_id: int) -> str:
        """The portable proof of one equivocation (hashfed-evidence/v1, docs/audit.md)."""
        return evidence_document(self._store.audit.evidence(), evidence_id)

    def record_read(self, auditor: str, method: str, request: str) -> None:
        """Every read by an auditor is kept (docs/audit.md), so a member can show who looked."""
        with self._store.transaction():
            self._store.audit.add_audit_read(auditor, method, request)

    def reads(self, auditor: str | None = None, limit: int = 1000) -> list[AuditReadRow]:
        return self._store.audit.audit_reads(auditor, limit)

    def operator_log(self) -> list[OperatorLogRow]:
        return self._store.audit.operator_log()
