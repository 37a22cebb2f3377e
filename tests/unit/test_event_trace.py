"""Why an event has no transfer (hub.audit.event_trace.why_untransferred): pure, no stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.audit.event_trace import Trace, why_untransferred

AT = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
LATER = AT + timedelta(hours=2)


def said(traces: list[Trace]) -> list[str]:
    return [" ".join(line.split()) for line in why_untransferred(traces, "E-1")]


def test_the_most_telling_record_of_a_sources_event_is_the_one_said() -> None:
    accepted = Trace("council-tax", "address.changed", "accepted", AT)
    routed = Trace("council-tax", "address.changed", "routed", AT)
    held = Trace("council-tax", "address.changed", "held", AT, "unresolved", "open")
    rejected = Trace("council-tax", "address.changed", "rejected", AT, "conflict", "rejected")
    assert "not routed yet" in said([accepted])[0]
    assert "routed 2026-12-08 09:30:00 UTC" in said([accepted, routed])[0]
    assert "held for review" in said([routed, held, accepted])[0]
    assert said([held, rejected, routed]) == [
        "council-tax's event 'E-1' (address.changed): rejected 2026-12-08 09:30:00 UTC: "
        "conflict. Nothing was sent. `hub events rejected` shows it; `hub events replay` sends "
        "it again once fixed."
    ]


def test_each_source_that_used_the_id_is_told_apart_in_order() -> None:
    traces = [
        Trace("registrar", "death.notified", "rejected", AT, "bad record", "rejected"),
        Trace("council-tax", "address.changed", "routed", AT),
        Trace("", "", "rejected", AT, "not Avro", "rejected"),  # undecodable: no source known
    ]
    assert said(traces)[1].startswith("council-tax's event 'E-1' (address.changed): routed")
    assert [said(traces)[i] for i in (0, 2)] == [
        "an event 'E-1': rejected 2026-12-08 09:30:00 UTC: not Avro. Nothing was sent. "
        "`hub events rejected` shows it; `hub events replay` sends it again once fixed.",
        "registrar's event 'E-1' (death.notified): rejected 2026-12-08 09:30:00 UTC: bad "
        "record. Nothing was sent. `hub events rejected` shows it; `hub events replay` sends "
        "it again once fixed.",
    ]
    assert said([]) == []


def test_what_happened_since_is_said_too() -> None:
    replayed = Trace(
        "registrar", "death.notified", "rejected", AT, "bad record", "replayed", LATER, "E-1b"
    )
    assert said([replayed])[0].endswith(
        ": bad record. Replayed 2026-12-08 11:30:00 UTC as event 'E-1b'."
    )
    retried = Trace("housing", "address.changed", "held", AT, "unresolved", "retried", LATER)
    assert said([retried])[0].endswith(": unresolved. Retried 2026-12-08 11:30:00 UTC.")
    again = Trace("registrar", "death.notified", "rejected", LATER, "still bad", "rejected")
    assert "rejected 2026-12-08 11:30:00 UTC: still bad." in said([replayed, again])[0]
    naive = Trace("housing", "address.changed", "accepted", AT.replace(tzinfo=None))
    assert "accepted 2026-12-08 09:30:00 UTC" in said([naive])[0]  # SQLite's naive UTC
