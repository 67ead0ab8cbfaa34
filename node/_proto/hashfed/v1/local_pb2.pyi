from node._proto.hashfed.v1 import entry_pb2 as _entry_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignalQuery(_message.Message):
    __slots__ = ("type", "value", "threshold")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    type: str
    value: str
    threshold: int
    def __init__(self, type: _Optional[str] = ..., value: _Optional[str] = ..., threshold: _Optional[int] = ...) -> None: ...

class MatchSignalRequest(_message.Message):
    __slots__ = ("query",)
    QUERY_FIELD_NUMBER: _ClassVar[int]
    query: SignalQuery
    def __init__(self, query: _Optional[_Union[SignalQuery, _Mapping]] = ...) -> None: ...

class MatchMediaRequest(_message.Message):
    __slots__ = ("content", "file_name", "pdq_threshold")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    PDQ_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    file_name: str
    pdq_threshold: int
    def __init__(self, content: _Optional[bytes] = ..., file_name: _Optional[str] = ..., pdq_threshold: _Optional[int] = ...) -> None: ...

class SignalDistance(_message.Message):
    __slots__ = ("type", "distance")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    type: str
    distance: int
    def __init__(self, type: _Optional[str] = ..., distance: _Optional[int] = ...) -> None: ...

class OpinionSummary(_message.Message):
    __slots__ = ("true_positive", "false_positive", "disputed", "agree_labels", "disagree_labels")
    TRUE_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    FALSE_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_FIELD_NUMBER: _ClassVar[int]
    AGREE_LABELS_FIELD_NUMBER: _ClassVar[int]
    DISAGREE_LABELS_FIELD_NUMBER: _ClassVar[int]
    true_positive: int
    false_positive: int
    disputed: int
    agree_labels: int
    disagree_labels: int
    def __init__(self, true_positive: _Optional[int] = ..., false_positive: _Optional[int] = ..., disputed: _Optional[int] = ..., agree_labels: _Optional[int] = ..., disagree_labels: _Optional[int] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("origin", "entry_index", "signals", "labels", "note", "opinions", "witnessing")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    ENTRY_INDEX_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    OPINIONS_FIELD_NUMBER: _ClassVar[int]
    WITNESSING_FIELD_NUMBER: _ClassVar[int]
    origin: str
    entry_index: int
    signals: _containers.RepeatedCompositeFieldContainer[SignalDistance]
    labels: _entry_pb2.Labels
    note: str
    opinions: OpinionSummary
    witnessing: Witnessing
    def __init__(self, origin: _Optional[str] = ..., entry_index: _Optional[int] = ..., signals: _Optional[_Iterable[_Union[SignalDistance, _Mapping]]] = ..., labels: _Optional[_Union[_entry_pb2.Labels, _Mapping]] = ..., note: _Optional[str] = ..., opinions: _Optional[_Union[OpinionSummary, _Mapping]] = ..., witnessing: _Optional[_Union[Witnessing, _Mapping]] = ...) -> None: ...

class Witnessing(_message.Message):
    __slots__ = ("witnessed", "checkpoint_size", "witnesses", "required", "witness_names")
    WITNESSED_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_SIZE_FIELD_NUMBER: _ClassVar[int]
    WITNESSES_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    WITNESS_NAMES_FIELD_NUMBER: _ClassVar[int]
    witnessed: bool
    checkpoint_size: int
    witnesses: int
    required: int
    witness_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, witnessed: _Optional[bool] = ..., checkpoint_size: _Optional[int] = ..., witnesses: _Optional[int] = ..., required: _Optional[int] = ..., witness_names: _Optional[_Iterable[str]] = ...) -> None: ...

class MatchResponse(_message.Message):
    __slots__ = ("query", "matches")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    query: str
    matches: _containers.RepeatedCompositeFieldContainer[Match]
    def __init__(self, query: _Optional[str] = ..., matches: _Optional[_Iterable[_Union[Match, _Mapping]]] = ...) -> None: ...

class StreamMatchesRequest(_message.Message):
    __slots__ = ("queries",)
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    queries: _containers.RepeatedCompositeFieldContainer[SignalQuery]
    def __init__(self, queries: _Optional[_Iterable[_Union[SignalQuery, _Mapping]]] = ...) -> None: ...

class StreamMatchesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[MatchResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[MatchResponse, _Mapping]]] = ...) -> None: ...

class PublishMediaRequest(_message.Message):
    __slots__ = ("content", "file_name", "labels", "note")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    file_name: str
    labels: _entry_pb2.Labels
    note: str
    def __init__(self, content: _Optional[bytes] = ..., file_name: _Optional[str] = ..., labels: _Optional[_Union[_entry_pb2.Labels, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class PublishSignalsRequest(_message.Message):
    __slots__ = ("signals", "pdq_quality", "labels", "note")
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    PDQ_QUALITY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    signals: _containers.RepeatedCompositeFieldContainer[SignalQuery]
    pdq_quality: int
    labels: _entry_pb2.Labels
    note: str
    def __init__(self, signals: _Optional[_Iterable[_Union[SignalQuery, _Mapping]]] = ..., pdq_quality: _Optional[int] = ..., labels: _Optional[_Union[_entry_pb2.Labels, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class RetractEntryRequest(_message.Message):
    __slots__ = ("entry_index", "reason")
    ENTRY_INDEX_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    entry_index: int
    reason: str
    def __init__(self, entry_index: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class CreateOpinionRequest(_message.Message):
    __slots__ = ("origin", "entry_index", "verdict", "agrees_with_labels")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    ENTRY_INDEX_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    AGREES_WITH_LABELS_FIELD_NUMBER: _ClassVar[int]
    origin: str
    entry_index: int
    verdict: _entry_pb2.OpinionStatement.Verdict
    agrees_with_labels: bool
    def __init__(self, origin: _Optional[str] = ..., entry_index: _Optional[int] = ..., verdict: _Optional[_Union[_entry_pb2.OpinionStatement.Verdict, str]] = ..., agrees_with_labels: _Optional[bool] = ...) -> None: ...

class PublishedEntry(_message.Message):
    __slots__ = ("origin", "entry_index", "kind")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    ENTRY_INDEX_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    origin: str
    entry_index: int
    kind: str
    def __init__(self, origin: _Optional[str] = ..., entry_index: _Optional[int] = ..., kind: _Optional[str] = ...) -> None: ...

class PublishResponse(_message.Message):
    __slots__ = ("entries", "checkpoint_size", "checkpoint_root")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ROOT_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[PublishedEntry]
    checkpoint_size: int
    checkpoint_root: str
    def __init__(self, entries: _Optional[_Iterable[_Union[PublishedEntry, _Mapping]]] = ..., checkpoint_size: _Optional[int] = ..., checkpoint_root: _Optional[str] = ...) -> None: ...

class GetProvenanceBundleRequest(_message.Message):
    __slots__ = ("origin", "entry_index")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    ENTRY_INDEX_FIELD_NUMBER: _ClassVar[int]
    origin: str
    entry_index: int
    def __init__(self, origin: _Optional[str] = ..., entry_index: _Optional[int] = ...) -> None: ...

class ProvenanceBundle(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...
