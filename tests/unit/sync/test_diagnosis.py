"""Diagnosis words: what a TLS probe saw becomes who refused whose certificate."""

from __future__ import annotations

import pytest

from node.sync.diagnosis import Diagnosis, TlsObservation, diagnose, is_certificate_alert

PEER, ADDRESS, ORIGIN = "node-b.example", "127.0.0.1:7443", "node-c.example"
PINNED, OURS, OTHER = "aa" * 32, "cc" * 32, "ee" * 32
THEY_REFUSE = (
    f"{PEER} refused our certificate (sha256 {OURS}): it has no member card for {ORIGIN}, "
    "or pins a different certificate"
)
WE_REFUSE = (
    f"we refuse {PEER}'s certificate: it presented sha256 {OTHER}, its member card pins {PINNED}"
)


def _diagnose(**seen: str) -> Diagnosis:
    return diagnose(
        TlsObservation(**seen),
        peer=PEER,
        address=ADDRESS,
        pinned_fingerprint=PINNED,
        our_fingerprint=OURS,
        our_origin=ORIGIN,
    )


def test_all_well() -> None:
    d = _diagnose(presented_fingerprint=PINNED, after_handshake="data")
    assert d.ok and d.problems == ()
    assert (d.reachable, d.we_accept_theirs, d.they_accept_ours) == (True, True, True)


@pytest.mark.parametrize("why", ["connection refused", "no answer within 3 s"])
def test_not_reachable(why: str) -> None:
    d = _diagnose(connect_error=why)
    assert not d.ok and not d.reachable
    assert d.problems == (f"{PEER} is not reachable at {ADDRESS} ({why})",)
    assert d.we_accept_theirs is None and d.they_accept_ours is None


def test_we_refuse_a_certificate_other_than_the_pinned_one() -> None:
    d = _diagnose(presented_fingerprint=OTHER, after_handshake="data")
    assert d.problems == (WE_REFUSE,)
    assert (d.we_accept_theirs, d.they_accept_ours) == (False, True)


def test_we_refuse_the_pinned_certificate_when_it_does_not_verify() -> None:
    d = _diagnose(
        presented_fingerprint=PINNED,
        after_handshake="data",
        verify_error="certificate has expired",
    )
    assert d.problems == (f"we refuse {PEER}'s certificate: certificate has expired",)
    assert d.we_accept_theirs is False


@pytest.mark.parametrize(
    "after",
    [
        "alert:TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "alert:SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "alert:SSLV3_ALERT_BAD_CERTIFICATE",
        "alert:TLSV1_ALERT_UNKNOWN_CA",
        "eof",  # gRPC's TLS stack closes without an alert
    ],
)
def test_they_refuse_our_certificate(after: str) -> None:
    d = _diagnose(presented_fingerprint=PINNED, after_handshake=after)
    assert d.problems == (THEY_REFUSE,)
    assert (d.we_accept_theirs, d.they_accept_ours) == (True, False)


def test_a_refusal_during_a_tls12_handshake() -> None:
    d = _diagnose(handshake_error="SSLV3_ALERT_BAD_CERTIFICATE")
    assert d.problems == (THEY_REFUSE,)
    assert d.they_accept_ours is False and d.we_accept_theirs is None


def test_both_refuse() -> None:
    d = _diagnose(presented_fingerprint=OTHER, after_handshake="eof")
    assert d.problems == (WE_REFUSE, THEY_REFUSE)
    assert d.message() == f"{WE_REFUSE}; {THEY_REFUSE}"


def test_other_failures_are_said_as_they_are() -> None:
    d = _diagnose(handshake_error="WRONG_VERSION_NUMBER")
    assert d.problems == (f"TLS handshake with {PEER} at {ADDRESS} failed (WRONG_VERSION_NUMBER)",)
    d = _diagnose(presented_fingerprint=PINNED, after_handshake="silent")
    assert "sent nothing after the TLS handshake" in d.message()
    assert not d.ok
    d = _diagnose(presented_fingerprint=PINNED, after_handshake="alert:TLSV1_ALERT_INTERNAL_ERROR")
    assert d.problems == (
        f"{PEER} ended the TLS session after the handshake (TLSV1_ALERT_INTERNAL_ERROR)",
    )


def test_certificate_alerts_are_recognised_in_messages_too() -> None:
    assert is_certificate_alert("[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca")
    assert is_certificate_alert("sslv3 alert certificate unknown")
    assert not is_certificate_alert("TLSV1_ALERT_PROTOCOL_VERSION")
