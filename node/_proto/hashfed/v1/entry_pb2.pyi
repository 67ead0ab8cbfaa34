from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Entry(_message.Message):
    __slots__ = ("origin", "create_time_unix_millis", "add", "retract", "opinion")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_UNIX_MILLIS_FIELD_NUMBER: _ClassVar[int]
    ADD_FIELD_NUMBER: _ClassVar[int]
    RETRACT_FIELD_NUMBER: _ClassVar[int]
    OPINION_FIELD_NUMBER: _ClassVar[int]
    origin: str
    create_time_unix_millis: int
    add: AddStatement
    retract: RetractStatement
    opinion: OpinionStatement
    def __init__(self, origin: _Optional[str] = ..., create_time_unix_millis: _Optional[int] = ..., add: _Optional[_Union[AddStatement, _Mapping]] = ..., retract: _Optional[_Union[RetractStatement, _Mapping]] = ..., opinion: _Optional[_Union[OpinionStatement, _Mapping]] = ...) -> None: ...

class Signal(_message.Message):
    __slots__ = ("type", "value", "quality")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    type: str
    value: bytes
    quality: int
    def __init__(self, type: _Optional[str] = ..., value: _Optional[bytes] = ..., quality: _Optional[int] = ...) -> None: ...

class Labels(_message.Message):
    __slots__ = ("entity", "content_type", "behaviours", "tags")
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOURS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    entity: str
    content_type: str
    behaviours: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, entity: _Optional[str] = ..., content_type: _Optional[str] = ..., behaviours: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class AddStatement(_message.Message):
    __slots__ = ("signals", "labels", "note")
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    signals: _containers.RepeatedCompositeFieldContainer[Signal]
    labels: Labels
    note: str
    def __init__(self, signals: _Optional[_Iterable[_Union[Signal, _Mapping]]] = ..., labels: _Optional[_Union[Labels, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class RetractStatement(_message.Message):
    __slots__ = ("entry_index", "reason")
    ENTRY_INDEX_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    entry_index: int
    reason: str
    def __init__(self, entry_index: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class EntryReference(_message.Message):
    __slots__ = ("origin", "entry_index", "leaf_hash")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    ENTRY_INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    origin: str
    entry_index: int
    leaf_hash: bytes
    def __init__(self, origin: _Optional[str] = ..., entry_index: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ...) -> None: ...

class OpinionStatement(_message.Message):
    __slots__ = ("target", "verdict", "agrees_with_labels")
    class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        VERDICT_UNSPECIFIED: _ClassVar[OpinionStatement.Verdict]
        TRUE_POSITIVE: _ClassVar[OpinionStatement.Verdict]
        FALSE_POSITIVE: _ClassVar[OpinionStatement.Verdict]
        DISPUTED: _ClassVar[OpinionStatement.Verdict]
    VERDICT_UNSPECIFIED: OpinionStatement.Verdict
    TRUE_POSITIVE: OpinionStatement.Verdict
    FALSE_POSITIVE: OpinionStatement.Verdict
    DISPUTED: OpinionStatement.Verdict
    TARGET_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    AGREES_WITH_LABELS_FIELD_NUMBER: _ClassVar[int]
    target: EntryReference
    verdict: OpinionStatement.Verdict
    agrees_with_labels: bool
    def __init__(self, target: _Optional[_Union[EntryReference, _Mapping]] = ..., verdict: _Optional[_Union[OpinionStatement.Verdict, str]] = ..., agrees_with_labels: _Optional[bool] = ...) -> None: ...
