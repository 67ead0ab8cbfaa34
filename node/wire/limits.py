"""Message size and batching limits of the two gRPC servers.

========================  ==============  ===========  =========================================
server                    max receive     max send     why
========================  ==============  ===========  =========================================
peer (FederationService)  1 MiB           8 MiB        requests are a few fields; the largest
                                                       response is an ``EntryBatch`` of at most
                                                       1,000 entries and 1 MiB of entry bytes
                                                       (plus framing), far below 8 MiB
local (LocalService)      32 MiB          32 MiB       ``MatchMedia``/``PublishMedia`` carry a
                                                       whole file; ``StreamMatches`` answers up
                                                       to 1,000 queries per message
========================  ==============  ===========  =========================================

A message over a limit fails with ``RESOURCE_EXHAUSTED`` (gRPC's own check). Further limits
enforced by the servicers (``INVALID_ARGUMENT`` when exceeded):

- ``StreamMatchesRequest``: at most 1,000 queries per message;
- ``StreamEntries`` sends batches of at most 1,000 entries and at most 1 MiB of entry bytes
  (an entry is at most 64 KiB, so a batch always holds at least 16 entries) and reads the store
  in chunks of 1,000 entries, so a large range never sits in memory at once;
- ``ListCheckpoints`` sends batches of at most 100 cosigned checkpoints (a note carries at most
  100 signature lines, so a batch stays near 1 MiB);
- log indices and tree sizes travel as ``uint64`` but must be below 2^63 (SQLite integers).
"""

from __future__ import annotations

MIB = 1024 * 1024

PEER_MAX_RECEIVE_BYTES = 1 * MIB
PEER_MAX_SEND_BYTES = 8 * MIB
LOCAL_MAX_RECEIVE_BYTES = 32 * MIB
LOCAL_MAX_SEND_BYTES = 32 * MIB

MAX_QUERIES_PER_MESSAGE = 1_000
MAX_BATCH_ENTRIES = 1_000
MAX_BATCH_BYTES = 1 * MIB
STORE_CHUNK_ENTRIES = 1_000
MAX_BATCH_CHECKPOINTS = 100
MAX_INDEX = 2**63 - 1

PEER_SERVER_OPTIONS = (
    ("grpc.max_receive_message_length", PEER_MAX_RECEIVE_BYTES),
    ("grpc.max_send_message_length", PEER_MAX_SEND_BYTES),
)
LOCAL_SERVER_OPTIONS = (
    ("grpc.max_receive_message_length", LOCAL_MAX_RECEIVE_BYTES),
    ("grpc.max_send_message_length", LOCAL_MAX_SEND_BYTES),
)
