"""The servicers implement every RPC of their generated bases, so a new RPC cannot be missed."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc, local_pb2, local_pb2_grpc
from node.server.federation import FederationServicer
from node.server.local import LocalServicer

CASES = [
    (LocalServicer, local_pb2_grpc.LocalServiceServicer, local_pb2, "LocalService"),
    (
        FederationServicer,
        federation_pb2_grpc.FederationServiceServicer,
        federation_pb2,
        "FederationService",
    ),
]


@pytest.mark.parametrize(("servicer", "base", "module", "service"), CASES)
def test_servicer_subclasses_its_base_and_overrides_every_rpc(
    servicer: type, base: type, module: ModuleType, service: str
) -> None:
    rpcs = [m.name for m in module.DESCRIPTOR.services_by_name[service].methods]

    assert issubclass(servicer, base)
    assert rpcs
    for name in rpcs:
        method = servicer.__dict__.get(name)
        assert method is not None, f"{servicer.__name__} does not implement {name}"
        assert inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method), name
