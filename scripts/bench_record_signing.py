"""Micro-benchmark of signed internal records: sign and verify, records/s (one core).

.venv/bin/python scripts/bench_record_signing.py
"""

from __future__ import annotations

import time

from hub.routing.messages import Delivery
from hub.signing.records import RecordKeys

DELIVERY = (
    b'{"delivery_id":"dlv_0123456789abcdef0123456789abcdef","event_id":"evt-1",'
    b'"event_type":"address.changed","source":"council-tax","subject":"P-100234",'
    b'"subject_key":"00000000000000000000000000000000","recipient":"waste","local_id":"WST-000417",'
    b'"event_time":"2026-11-20T09:00:00Z","agreement_id":"DSA-001","agreement_version":"abc",'
    b'"lawful_basis":"Art. 6(1)(e)","purpose":"bins","fields":["effective_date","new_address"],'
    b'"data":{"effective_date":"2026-11-20","new_address":{"uprn":"100023412345",'
    b'"lines":["7 Orchard Close"],"postcode":"EX4 7QT"}},"decided_at":"2026-11-20T09:00:00Z"}'
)
CE_HEADERS = [
    ("ce_id", b"evt-1"),
    ("ce_source", b"council-tax"),
    ("ce_type", b"address.changed"),
    ("ce_subject", b"P-100234"),
    ("ce_time", b"2026-11-20T09:00:00Z"),
    ("ce_specversion", b"1.0"),
    ("ce_dataschema", b"schemas/address.changed.v2"),
    ("content-type", b"application/avro"),
]


def main(n: int = 100_000) -> None:
    keys = RecordKeys.of("k" * 64)
    for name, headers in (("delivery JSON, no headers", []), ("event, 8 ce_ headers", CE_HEADERS)):
        started = time.perf_counter()
        signed = [
            keys.sign_headers("deliveries.waste", b"P-100234", DELIVERY, headers) for _ in range(n)
        ]
        sign_s = time.perf_counter() - started
        started = time.perf_counter()
        for h in signed:
            assert keys.check("deliveries.waste", b"P-100234", DELIVERY, h) is None
        verify_s = time.perf_counter() - started
        print(
            f"{name} ({len(DELIVERY)} B): sign {n / sign_s:,.0f} records/s, "
            f"verify {n / verify_s:,.0f} records/s"
        )
    started = time.perf_counter()
    for _ in range(n // 10):
        Delivery.model_validate_json(DELIVERY)
    print(
        f"for scale, pydantic-decoding the delivery: {n / 10 / (time.perf_counter() - started):,.0f}/s"
    )


if __name__ == "__main__":
    main()
