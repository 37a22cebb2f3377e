"""Sign-in decisions: roles from claims, the access log's actor, loopback, OIDC settings;
review reminders and their once-a-day warning; UK times and plain-English words."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import SecretStr
from structlog.testing import capture_logs

from hub.api.reminders import ReminderLog, warning_due
from hub.api.signin import (
    KeySessions,
    install_sessions,
    is_loopback,
    oidc_problems,
    person_from_claims,
    roles_from_claims,
)
from hub.api.templating import flag_words, uk_time
from hub.audit.workbench import reminders, utc_bounds
from hub.config.model import HubConfig, Role
from hub.policy.reasons import ReasonCode, sentence
from hub.settings import HubSettings

MAP = {"hub-ig": [Role.IG], "hub-admin": [Role.IG, Role.ADMIN]}


def test_roles_come_from_the_mapped_claim_values_only() -> None:
    assert roles_from_claims({"groups": ["staff", "hub-ig"]}, "groups", MAP) == {Role.IG}
    assert roles_from_claims({"roles": "hub-admin other"}, "roles", MAP) == {Role.IG, Role.ADMIN}
    assert roles_from_claims({"groups": ["staff"]}, "groups", MAP) == frozenset()
    assert roles_from_claims({}, "groups", MAP) == frozenset()
    assert roles_from_claims({"groups": {"hub-ig": 1}}, "groups", MAP) == frozenset()


def test_the_actor_names_the_person_and_keeps_the_subject_whole() -> None:
    p = person_from_claims(
        {"sub": "abc", "email": "a@x.gov.uk", "groups": ["hub-ig"]}, "groups", MAP
    )
    assert p.actor == "a@x.gov.uk [abc]" and p.is_ig and p.kind == "person"
    long = person_from_claims({"sub": "s" * 40, "email": "e" * 60}, "groups", MAP)
    assert len(long.actor) == 64 and long.actor.endswith(f"[{'s' * 40}]") and not long.is_ig


def test_secure_cookies_except_on_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("hub.council.gov.uk")


def test_oidc_needs_client_id_secret_and_an_ig_mapping() -> None:
    assert oidc_problems(HubSettings()) == []
    named = {p.location for p in oidc_problems(HubSettings(oidc_issuer="https://idp"))}
    assert named == {"HUB_OIDC_CLIENT_ID", "HUB_OIDC_CLIENT_SECRET", "HUB_OIDC_ROLE_MAP"}
    ready = HubSettings(
        oidc_issuer="https://idp",
        oidc_client_id="hub",
        oidc_client_secret=SecretStr("s3cret"),
        oidc_role_map={"hub-ig": [Role.IG]},
    )
    assert oidc_problems(ready) == []


def test_key_sessions_hold_a_hash_behind_a_random_id() -> None:
    sessions = KeySessions(max_age_s=60)
    sid = sessions.open("hash-of-key")
    assert sid != "hash-of-key" and sessions.key_hash(sid) == "hash-of-key"
    sessions.close(sid)
    assert sessions.key_hash(sid) is None
    expired = KeySessions(max_age_s=-1)
    assert expired.key_hash(expired.open("h")) is None


def test_warned_once_a_day_while_something_is_due() -> None:
    today = date(2026, 12, 3)
    assert warning_due(None, today, 2)
    assert not warning_due(today, today, 2)
    assert warning_due(date(2026, 12, 2), today, 1)
    assert not warning_due(None, today, 0)


def test_reminders_list_agreements_past_review(config: HubConfig) -> None:
    late = max(a.review_by for a in config.agreements)
    due = reminders(config, late.replace(year=late.year + 1))
    assert {r.agreement_id for r in due} == {a.id for a in config.agreements}
    assert all(r.days_overdue > 0 for r in due)


def test_uk_time_and_days() -> None:
    assert uk_time(datetime(2026, 7, 1, 11, 0, tzinfo=UTC)) == "1 Jul 2026 12:00:00 BST"
    assert uk_time(datetime(2026, 12, 1, 11, 0, tzinfo=UTC)) == "1 Dec 2026 11:00:00 GMT"
    start, end = utc_bounds(date(2026, 7, 1), date(2026, 7, 1))
    assert start == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 7, 1, 23, 0, tzinfo=UTC)


def test_plain_english_words() -> None:
    assert all(sentence(c).endswith(".") and "_" not in sentence(c) for c in ReasonCode)
    assert sentence(ReasonCode.NO_LOCAL_RECORD) == "The service holds no record of this person."
    assert flag_words("past_review_by") == "Past its review date"


async def test_the_reminder_warning_is_logged_once_a_uk_day(config: HubConfig) -> None:
    late = max(a.review_by for a in config.agreements)
    now = [datetime(late.year + 1, 1, 5, 9, 0, tzinfo=UTC)]
    reminder_log = ReminderLog(lambda: config, clock=lambda: now[0])
    with capture_logs() as logs:
        await reminder_log.check()
        await reminder_log.check()
        now[0] = now[0].replace(day=6)
        await reminder_log.check()
    warnings = [e for e in logs if e["event"] == "agreements_need_review"]
    assert len(warnings) == 2 and all(w["log_level"] == "warning" for w in warnings)
    assert warnings[0]["count"] == len(config.agreements)


def test_the_session_cookie_is_secure_off_loopback_and_http_only() -> None:
    def cookie_for(host: str) -> str:
        app = FastAPI()
        install_sessions(app, HubSettings(api_host=host), "k" * 32)

        @app.get("/in")
        def sign(request: Request) -> dict[str, str]:
            request.session["who"] = {"kind": "person"}
            return {}

        return TestClient(app).get("/in").headers["set-cookie"].lower()

    public = cookie_for("0.0.0.0")
    assert "hub_session=" in public and "secure" in public and "httponly" in public
    assert "samesite=lax" in public
    assert "secure" not in cookie_for("127.0.0.1")


def test_key_sign_in_is_refused_outside_the_laptop_default() -> None:
    from hub.api import dashboard

    app = FastAPI()
    install_sessions(app, HubSettings(), "k" * 32)
    app.include_router(dashboard.router)
    app.state.workbench = dashboard.Workbench(KeySessions(60), oidc=None, key_sign_in=False)
    client = TestClient(app)
    page = client.get("/dashboard/login")
    assert "HUB_OIDC_ISSUER" in page.text and 'name="api_key"' not in page.text
    refused = client.post("/dashboard/login", data={"api_key": "demo-information-governance-key"})
    assert refused.status_code == 403 and "laptop default only" in refused.text
    assert "set-cookie" not in refused.headers
