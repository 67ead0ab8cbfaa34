"""Shared code of the hashfed auditor scripts: keys, signed notes, cosignatures, Merkle proofs.

The auditor scripts (``verify_bundle.py``, ``verify_log.py``, ``verify_evidence.py``) check the
claims of hashfed nodes without trusting the node's code, so this package imports only the
standard library and ``cryptography``, never the ``node`` package. It implements, from the
specifications alone, one module each:

- ``errors``: :class:`VerificationError` and how untrusted text is shown in its messages;
- ``values``: canonical base64, hex hashes, origin names and strict JSON;
- ``keys``: C2SP signed-note verifier keys (type 0x01, Ed25519) and tlog-cosignature/v1 witness
  keys (type 0x04), ``name+hex8(keyid)+base64(type || public key)``;
- ``notes``: C2SP signed notes and tlog-checkpoint bodies;
- ``cosignatures``: tlog-cosignature/v1 cosignature lines;
- ``merkle``: RFC 9162 section 2.1 Merkle trees: leaf and node hashes, roots, inclusion and
  consistency proof verification (a proof of the wrong length is refused before it is evaluated);
- ``entry``: just enough of the protobuf wire format to read ``hashfed.v1.Entry``;
- ``cli``: the command-line pieces the scripts share: ``--key``/``--witness`` values given as text
  or ``@FILE``, whole numbers, the input file (or ``-`` for standard input), the report's output.

Every check raises :class:`auditlib.errors.VerificationError` with a message that says what was
wrong and what was expected; the scripts print it as ``FAIL: <message>``.
"""
