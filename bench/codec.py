"""`hub bench codec`: Avro encode+decode of one event on one core, beside pydantic validation.

Two loops over the same address.changed record, each timed with `time.perf_counter` after a
warm-up, best of three runs, in this one thread (no broker, no I/O):

- avro: `AvroCodec.encode_event` (CloudEvents attributes to `ce_*` headers, data to a
  Confluent wire-format Avro value) then `AvroCodec.decode_event` (headers back to an
  `Envelope`, value back to a dict) - what a producer plus a consumer pay per event.
- pydantic: the payload model's `model_validate` of the same record plus the `Envelope`
  construction - what the ingest edge pays per event.
"""

from __future__ import annotations

import gc
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from rich.console import Console, JustifyMethod
from rich.table import Table

from hub.events.codec import AvroCodec
from hub.events.envelope import Envelope, Event
from hub.events.payloads import PAYLOAD_MODELS
from hub.events.schemas import SchemaRegistry

EVENT_TYPE: Final = "address.changed"
AVRO_TARGET_EVENTS_S: Final = 50_000
RUNS: Final = 3
_POOL: Final = 256  # distinct events cycled through, so no run re-uses one object throughout


@dataclass(frozen=True)
class CodecBenchResult:
    events: int
    avro_events_per_s: float
    pydantic_events_per_s: float
    target_avro_events_per_s: int = AVRO_TARGET_EVENTS_S

    @property
    def ratio(self) -> float:
        """How many times faster Avro encode+decode is than pydantic validation."""
        return self.avro_events_per_s / self.pydantic_events_per_s

    @property
    def meets_target(self) -> bool:
        return self.avro_events_per_s >= self.target_avro_events_per_s


def _record(i: int) -> dict[str, Any]:
    """An address.changed record as the hub holds it after validation (dates as dates)."""
    return {
        "previous_address": {
            "uprn": f"{100023336956 + i}",
            "lines": ["Flat 4, 17 Sidwell Street", "Exeter"],
            "postcode": "EX4 6NN",
        },
        "new_address": {
            "uprn": f"{200004711808 + i}",
            "lines": ["Rosemary Cottage, 3 Mill Lane", "Topsham"],
            "postcode": "EX3 0QX",
        },
        "effective_date": date(2026, 3, 14) + timedelta(days=i % 30),
        "move_type": "within_area",
    }


def _attributes(i: int, registry: SchemaRegistry) -> dict[str, Any]:
    return {
        "id": f"bench-codec-{i:08d}",
        "source": "council-tax",
        "type": EVENT_TYPE,
        "subject": f"P-{100000 + i}",
        "time": datetime(2026, 3, 16, 9, 30, 15, tzinfo=UTC) + timedelta(seconds=i),
        "dataschema": registry.latest(EVENT_TYPE).dataschema,
        "correlationid": f"case-{i}",
    }


def _best_rate(step: Callable[[int], object], n: int) -> float:
    """Events/s of the fastest of RUNS timed runs of `step(i)` for i in 0..n-1, after a warm-up."""
    for i in range(min(n, 2_000)):
        step(i)
    best = float("inf")
    for _ in range(RUNS):
        gc.collect()  # start every run with the same heap; GC stays on while timing
        started = time.perf_counter()
        for i in range(n):
            step(i)
        best = min(best, time.perf_counter() - started)
    return n / best if best > 0 else float("inf")


def run_codec_bench(registry: SchemaRegistry, n: int, console: Console) -> CodecBenchResult:
    """Measure, print a table, and return the figures; `n` events per timed run."""
    if n < 1:
        raise ValueError("n must be at least 1")
    codec = AvroCodec(registry)
    model = PAYLOAD_MODELS[EVENT_TYPE]
    pool = min(n, _POOL)
    records = [_record(i) for i in range(pool)]
    attributes = [_attributes(i, registry) for i in range(pool)]
    events = [Event(envelope=Envelope(**attributes[i]), data=records[i]) for i in range(pool)]

    # the loop must measure a working round trip, not a fast failure
    sample = codec.encode_event(events[0])
    back = codec.decode_event(sample.value, sample.headers)
    if back.envelope != events[0].envelope or back.data != events[0].data:
        raise RuntimeError(f"{EVENT_TYPE} does not round-trip through the Avro codec")
    model.model_validate(records[0])

    def avro(i: int) -> object:
        record = codec.encode_event(events[i % pool])
        return codec.decode_event(record.value, record.headers)

    def pydantic(i: int) -> object:
        model.model_validate(records[i % pool])
        return Envelope(**attributes[i % pool])

    console.print(
        f"bench-codec: {n:,} {EVENT_TYPE} events per run, best of {RUNS}, one thread "
        f"(Python {platform.python_version()})..."
    )
    result = CodecBenchResult(
        events=n,
        avro_events_per_s=_best_rate(avro, n),
        pydantic_events_per_s=_best_rate(pydantic, n),
    )
    console.print(_table(result))
    ok = "[green]PASS[/green]" if result.meets_target else "[red]FAIL[/red]"
    console.print(
        f"{ok} Avro encode+decode {result.avro_events_per_s:,.0f} events/s "
        f"(target >= {result.target_avro_events_per_s:,}; pydantic validation alone, the "
        f"baseline in this run: {result.pydantic_events_per_s:,.0f}/s)"
    )
    return result


def _table(result: CodecBenchResult) -> Table:
    table = Table(title=f"Codec throughput, one core ({result.events:,} events per run)")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("path", "left"),
        ("events/s", "right"),
        ("µs/event", "right"),
        ("target", "right"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)
    verdict = "[green]met[/green]" if result.meets_target else "[red]not met[/red]"
    table.add_row(
        "Avro encode+decode (ce_* headers + address.changed value)",
        f"{result.avro_events_per_s:,.0f}",
        f"{1e6 / result.avro_events_per_s:.1f}",
        f"≥ {result.target_avro_events_per_s:,} {verdict}",
    )
    table.add_row(
        "pydantic validate (AddressChanged + Envelope)",
        f"{result.pydantic_events_per_s:,.0f}",
        f"{1e6 / result.pydantic_events_per_s:.1f}",
        "",
    )
    table.add_row("Avro / pydantic", f"{result.ratio:.2f}x", "", "")
    return table
