from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetNodeInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("origin", "protocol_version", "software_version", "witness_key")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SOFTWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    WITNESS_KEY_FIELD_NUMBER: _ClassVar[int]
    origin: str
    protocol_version: str
    software_version: str
    witness_key: str
    def __init__(self, origin: _Optional[str] = ..., protocol_version: _Optional[str] = ..., software_version: _Optional[str] = ..., witness_key: _Optional[str] = ...) -> None: ...

class ListOriginsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OriginCheckpoint(_message.Message):
    __slots__ = ("origin", "checkpoint")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    origin: str
    checkpoint: str
    def __init__(self, origin: _Optional[str] = ..., checkpoint: _Optional[str] = ...) -> None: ...

class ListOriginsResponse(_message.Message):
    __slots__ = ("origins",)
    ORIGINS_FIELD_NUMBER: _ClassVar[int]
    origins: _containers.RepeatedCompositeFieldContainer[OriginCheckpoint]
    def __init__(self, origins: _Optional[_Iterable[_Union[OriginCheckpoint, _Mapping]]] = ...) -> None: ...

class StreamEntriesRequest(_message.Message):
    __slots__ = ("origin", "start_index", "end_index")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    END_INDEX_FIELD_NUMBER: _ClassVar[int]
    origin: str
    start_index: int
    end_index: int
    def __init__(self, origin: _Optional[str] = ..., start_index: _Optional[int] = ..., end_index: _Optional[int] = ...) -> None: ...

class EntryBatch(_message.Message):
    __slots__ = ("start_index", "entries", "consistency_proof")
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_PROOF_FIELD_NUMBER: _ClassVar[int]
    start_index: int
    entries: _containers.RepeatedScalarFieldContainer[bytes]
    consistency_proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, start_index: _Optional[int] = ..., entries: _Optional[_Iterable[bytes]] = ..., consistency_proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("origin", "entry_index", "tree_size")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    ENTRY_INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    origin: str
    entry_index: int
    tree_size: int
    def __init__(self, origin: _Optional[str] = ..., entry_index: _Optional[int] = ..., tree_size: _Optional[int] = ...) -> None: ...

class InclusionProof(_message.Message):
    __slots__ = ("entry", "hashes", "checkpoint")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    entry: bytes
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    checkpoint: str
    def __init__(self, entry: _Optional[bytes] = ..., hashes: _Optional[_Iterable[bytes]] = ..., checkpoint: _Optional[str] = ...) -> None: ...

class GetConsistencyProofRequest(_message.Message):
    __slots__ = ("origin", "old_size", "new_size")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    origin: str
    old_size: int
    new_size: int
    def __init__(self, origin: _Optional[str] = ..., old_size: _Optional[int] = ..., new_size: _Optional[int] = ...) -> None: ...

class ConsistencyProof(_message.Message):
    __slots__ = ("hashes",)
    HASHES_FIELD_NUMBER: _ClassVar[int]
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, hashes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ListCheckpointsRequest(_message.Message):
    __slots__ = ("origin", "min_size", "cosigned_only")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    COSIGNED_ONLY_FIELD_NUMBER: _ClassVar[int]
    origin: str
    min_size: int
    cosigned_only: bool
    def __init__(self, origin: _Optional[str] = ..., min_size: _Optional[int] = ..., cosigned_only: _Optional[bool] = ...) -> None: ...

class CheckpointBatch(_message.Message):
    __slots__ = ("checkpoints",)
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    checkpoints: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, checkpoints: _Optional[_Iterable[str]] = ...) -> None: ...
