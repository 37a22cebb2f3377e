"""The workbench never gives a confident empty (issue 13): every list filters its dates in SQL,
pages through what it found, and says when a page holds only part of it; a state-changing form
POST carries the session's CSRF token or is refused, changing nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert

from hub.audit.queries import CONSENT
from hub.audit.subject_access import ACCESS_LOG
from hub.broker.embedded import EmbeddedBroker
from hub.db.tables import QualityCounter
from hub.quality.counters import QualityCounters, Tally
from hub.rejected.store import RejectedStore, Rejection
from hub.settings import HubSettings
from runtime.api import create_app
from runtime.wiring import open_stores
from tests.workbench_client import IG_KEY, csrf_token, key_sign_in

DAYS = [date(2026, 11, 2) + timedelta(days=i) for i in range(4)]  # GMT: UK day = UTC day
PER_DAY = 300  # 1,200 consent withdrawals in all
REJECTED_PER_DAY = 200  # 800 rejected events in all


def noon(day: date, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC) + timedelta(seconds=minute)


@pytest.fixture
def client(broker: EmbeddedBroker, settings: HubSettings) -> Iterator[TestClient]:
    stores = open_stores(settings, schema="create")
    consent = [
        {
            "source": "contact-centre",
            "event_id": f"c-{d}-{i}",
            "subject": f"S-{d}-{i}",
            "action": "withdrawn" if i % 2 else "objection",
            "purpose": "DSA-001",
            "recipient": None,
            "effective_at": noon(d, i),
            "recorded_at": noon(d, i),
        }
        for d in DAYS
        for i in range(PER_DAY)
    ]
    reads = [
        {
            "accessed_at": noon(DAYS[0], i),
            "actor": "ig-officer",
            "purpose": f"SAR {i}",
            "subject_key": f"k{i:063d}",
            "what": "subject_access_report",
            "via": "cli",
        }
        for i in range(250)
    ]
    with stores.engine.begin() as conn:
        conn.execute(insert(CONSENT), consent)
        conn.execute(insert(ACCESS_LOG), reads)
    RejectedStore(stores.engine).add(
        [
            Rejection(
                rejected_at=noon(d, i),
                source="council-tax",
                event_id=f"r-{d}-{i}",
                event_type="address.changed",
                original_topic="events.address.changed",
                original_partition=0,
                original_offset=n * 1000 + i,
                key=None,
                value=b"{}",
                headers=[],
                reason=f"bad record {d} {i}",
                rules=("postcode_format",),
            )
            for n, d in enumerate(DAYS)
            for i in range(REJECTED_PER_DAY)
        ]
    )
    with stores.engine.begin() as conn:  # the counts are seeded on their own, below
        conn.execute(delete(QualityCounter.__table__))  # type: ignore[attr-defined]
    QualityCounters(stores.engine).add(
        [Tally(DAYS[0], "council-tax", "address.changed", "rejected", "postcode_format")] * 5
        + [Tally(DAYS[3], "council-tax", "address.changed", "rejected", "postcode_format")] * 7
    )
    stores.engine.dispose()
    api = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap, "allow_demo_keys": True})
    with TestClient(create_app(api)) as c:
        assert key_sign_in(c).status_code == 303
        yield c


def table_rows(html: str, testid: str) -> list[str]:
    """The body rows of the table marked data-testid=`testid` (none when there is no table)."""
    start = html.find(f'data-testid="{testid}"')
    if start < 0:
        return []
    body = html[start : html.index("</table>", start)]
    return re.findall(r"<tr><td>(.*?)</tr>", body)


def next_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_earliest_day_of_many_consent_withdrawals_is_shown(client: TestClient) -> None:
    first = DAYS[0].isoformat()
    page = client.get("/dashboard/consent", params={"from": first, "to": first})
    assert page.status_code == 200
    assert len(table_rows(page.text, "consent")) == PER_DAY, "the earliest day came back empty"
    assert "None in these dates" not in page.text
    # a wide range: a page at a time, saying it is partial, every row once across the pages
    page = client.get("/dashboard/consent", params={"from": DAYS[0], "to": DAYS[-1]})
    assert page.status_code == 200
    rows = table_rows(page.text, "consent")
    assert 0 < len(rows) < PER_DAY * len(DAYS)
    assert f"of {PER_DAY * len(DAYS):,}" in page.text and "narrow the dates" in page.text
    seen = list(rows)
    link = next_link(page.text)
    while link is not None:
        page = client.get(link)
        assert page.status_code == 200
        seen.extend(table_rows(page.text, "consent"))
        link = next_link(page.text)
    assert len(seen) == PER_DAY * len(DAYS) == len(set(seen))


def test_rejected_events_and_counts_keep_to_the_dates(client: TestClient) -> None:
    first = DAYS[0].isoformat()
    page = client.get("/dashboard/quality", params={"from": first, "to": first})
    assert page.status_code == 200
    rows = table_rows(page.text, "rejected")
    assert len(rows) == REJECTED_PER_DAY and all(first in r or "2 Nov" in r for r in rows)
    by_rule = table_rows(page.text, "by-rule")
    assert len(by_rule) == 1 and by_rule[0].endswith("<td>5</td>"), by_rule  # not day 4's 7
    wide = client.get("/dashboard/quality", params={"from": DAYS[0], "to": DAYS[-1]})
    assert f"of {REJECTED_PER_DAY * len(DAYS)}" in wide.text and next_link(wide.text)
    # the access log (filtered in SQL already) says when it shows part
    page = client.get("/dashboard/access-log")
    shown = table_rows(page.text, "access-log")
    assert len(shown) < 250 and "of 250" in page.text
    link = next_link(page.text)
    assert link is not None
    rest = table_rows(client.get(link).text, "access-log")
    assert len(shown) + len(rest) == 250


def test_a_bad_page_number_is_a_clear_error(client: TestClient) -> None:
    page = client.get("/dashboard/consent", params={"page": "many"})
    assert page.status_code == 422 and "page" in page.text.lower()


def test_a_form_post_without_the_sessions_token_is_refused(client: TestClient) -> None:
    overview = client.get("/dashboard")
    token = csrf_token(overview.text)
    for path in ("/dashboard/logout", "/dashboard/audit/verify", "/dashboard/review/1/retry"):
        for data in ({}, {"csrf_token": "forged-" + token[7:]}):
            refused = client.post(path, data=data, follow_redirects=False)
            assert refused.status_code == 403, (path, refused.text[:200])
            assert "Nothing was changed" in refused.text
    # still signed in (sign-out refused); no verification ran (nothing to show on the page)
    audit = client.get("/dashboard/audit", follow_redirects=False)
    assert audit.status_code == 200 and 'id="verify-status"' not in audit.text
    verified = client.post(
        "/dashboard/audit/verify", data={"csrf_token": token}, follow_redirects=False
    )
    assert verified.status_code == 303
    assert 'id="verify-status"' in client.get("/dashboard/audit").text
    huge = client.post(f"/dashboard/review/{2**64}/retry", data={"csrf_token": token})
    assert huge.status_code == 409 and "There is no review item" in huge.text
    # the key sign-in form too: without the token no session is opened
    stranger = TestClient(client.app)
    refused = stranger.post("/dashboard/login", data={"api_key": IG_KEY}, follow_redirects=False)
    assert refused.status_code == 403 and "nothing was done" in refused.text
    assert stranger.get("/dashboard", follow_redirects=False).status_code == 303
    assert key_sign_in(stranger).status_code == 303
    # API keys: a bearer request needs no token
    headers = {"Authorization": "Bearer demo-information-governance-key"}
    assert client.get("/v1/audit/verify", headers=headers).status_code == 200


def test_the_ig_api_lists_take_dates_and_say_how_many_matched(client: TestClient) -> None:
    headers = {"Authorization": "Bearer demo-information-governance-key"}
    first = DAYS[0].isoformat()
    day = {"from": first, "to": first, "limit": 1000}
    consent = client.get("/v1/audit/consent-withdrawals", params=day, headers=headers)
    assert consent.status_code == 200, consent.text
    assert len(consent.json()) == PER_DAY and consent.headers["x-total-count"] == str(PER_DAY)
    rejected = client.get("/v1/rejected", params=day, headers=headers)
    assert len(rejected.json()) == REJECTED_PER_DAY
    assert rejected.headers["x-total-count"] == str(REJECTED_PER_DAY)
    # a capped answer says how many there are in all; page 2 holds the next ones
    capped = client.get("/v1/audit/consent-withdrawals", params={"limit": 100}, headers=headers)
    assert len(capped.json()) == 100 and capped.headers["x-total-count"] == "1200"
    second = client.get(
        "/v1/audit/consent-withdrawals", params={"limit": 100, "page": 2}, headers=headers
    )
    assert {r["subject_key"] for r in second.json()}.isdisjoint(
        r["subject_key"] for r in capped.json()
    )
    log = client.get("/v1/audit/access-log", params={"limit": 10}, headers=headers)
    assert len(log.json()) == 10 and log.headers["x-total-count"] == "250"
    quality = client.get("/v1/quality", params={"since": first, "until": first}, headers=headers)
    assert [r["count"] for r in quality.json()["rows"]] == [5]


def test_a_search_for_a_name_the_hub_never_knew_is_refused_not_empty(client: TestClient) -> None:
    """Nothing is in the audit trail here: a configured recipient finds a right empty page; a
    typo, or a person nobody ever named, is refused (422) saying what is unknown, on the API
    and on the workbench's search alike."""
    ig = {"Authorization": f"Bearer {IG_KEY}"}
    empty = client.get("/v1/audit/transfers", params={"recipient": "waste"}, headers=ig)
    assert empty.status_code == 200 and empty.json()["rows"] == []
    typo = client.get("/v1/audit/transfers", params={"recipient": "wastee"}, headers=ig)
    assert typo.status_code == 422
    error = typo.json()["error"]
    assert error["code"] == "unknown_name"
    assert [(p["field"], p["rule"]) for p in error["problems"]] == [("recipient", "unknown")]
    assert "'wastee' is not a receiving system" in error["problems"][0]["message"]
    nobody = client.get(
        "/v1/audit/transfers",
        params={"hub_id": "P-NOBODY", "purpose": "SAR 2026-0142", "format": "csv"},
        headers=ig,
    )
    assert nobody.status_code == 422, nobody.text  # not a CSV file of headers only
    assert nobody.json()["error"]["problems"][0]["field"] == "hub_id"

    page = client.get("/dashboard/search", params={"recipient": "wastee"})
    assert page.status_code == 422
    assert "is not a receiving system in the configuration" in page.text
    assert client.get("/dashboard/search", params={"recipient": "waste"}).status_code == 200


def test_rejected_events_and_quality_refuse_a_source_never_known(
    client: TestClient, settings: HubSettings
) -> None:
    """An empty list by a source: right for a configured source (or one only the data holds,
    retired from the configuration), refused (422) for a name the hub never knew."""
    ig = {"Authorization": f"Bearer {IG_KEY}"}
    for path, nowhere in (
        ("/v1/rejected", "no rejected record names it"),
        ("/v1/quality", "no event from it was ever counted"),
    ):
        typo = client.get(path, params={"source": "council-tx"}, headers=ig)
        assert typo.status_code == 422, (path, typo.text)
        (problem,) = typo.json()["error"]["problems"]
        assert problem["field"] == "source" and nowhere in problem["message"]
        assert "use one of council-tax, customer-index, registrar" in problem["message"]
        assert client.get(path, params={"source": "registrar"}, headers=ig).status_code == 200
    found = client.get("/v1/rejected", params={"source": "council-tax"}, headers=ig)
    assert found.status_code == 200 and found.json()
    # the workbench's page, its source typed by hand
    typed = client.get("/dashboard/quality", params={"source": "council-tx"})
    assert typed.status_code == 422 and "No rejected events" not in typed.text
    assert "&#39;council-tx&#39; is not a source system in the configuration" in typed.text
    quiet = client.get("/dashboard/quality", params={"source": "registrar"})
    assert quiet.status_code == 200 and "No rejected events in these dates" in quiet.text
    RejectedStore(open_stores(settings).engine).add(
        [
            Rejection(
                rejected_at=noon(DAYS[0]), source="retired-feed", event_id="r-old",
                event_type="address.changed", original_topic="events.address.changed",
                original_partition=0, original_offset=99_999, key=None, value=b"{}",
                headers=[], reason="bad record", rules=("postcode_format",),
            )
        ]
    )  # fmt: skip
    past = {"source": "retired-feed", "from": DAYS[3].isoformat()}  # not on those days
    retired = client.get("/v1/rejected", params=past, headers=ig)
    assert retired.status_code == 200 and retired.json() == []


def test_the_access_log_refuses_a_key_that_is_not_a_person_key(client: TestClient) -> None:
    ig = {"Authorization": f"Bearer {IG_KEY}"}
    wrong = client.get("/v1/audit/access-log", params={"subject_key": "P-100234"}, headers=ig)
    assert wrong.status_code == 422
    (problem,) = wrong.json()["error"]["problems"]
    assert problem["field"] == "query.subject_key" and "32 hexadecimal" in problem["message"]
    key = "a" + "0" * 31  # a person key: 32 hexadecimal digits
    for subject_key in (key, "(no linked person)"):
        found = client.get("/v1/audit/access-log", params={"subject_key": subject_key}, headers=ig)
        assert found.status_code == 200, found.text
