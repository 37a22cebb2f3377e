"""Input limits: the guarded JSON loader, the character rule, the streamed body size limit."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from hub.api.errors import install_error_handlers
from hub.api.limits import BodySizeLimit
from hub.errors import EventValidationError, RecordRejected
from hub.events.codec import AvroCodec
from hub.events.rules import (
    BIDI_CONTROLS,
    LINE_BREAKS,
    RuleConfig,
    character_problems,
    forbidden_character,
)
from hub.events.safe_json import MAX_DEPTH, JsonRejected, depth, load_json
from hub.events.schemas import SchemaRegistry
from hub.events.validation import accept_record, build_event

from .samples import NOW, SUBJECT
from .test_events_validation import submission

# --- the guarded JSON loader -------------------------------------------------------------


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    for levels in (MAX_DEPTH + 1, 950, 100_000):
        with pytest.raises(JsonRejected, match="nested too deeply: the limit is 32"):
            load_json("[" * levels + "]" * levels)
    assert load_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None


def test_huge_numbers_are_refused_not_a_value_error() -> None:
    with pytest.raises(JsonRejected, match="4301 characters; the limit is 40"):
        load_json('{"a": ' + "9" * 4301 + "}")
    with pytest.raises(JsonRejected, match="too large"):
        load_json("[1e999]")
    with pytest.raises(JsonRejected, match="NaN is not valid JSON"):
        load_json("[NaN]")
    assert load_json('{"a": 18446744073709551616, "b": 1.5}') == {
        "a": 2**64,
        "b": 1.5,
    }


def test_not_json_is_refused() -> None:
    for raw in (b"\xff\xfe", b"{", b""):
        with pytest.raises(JsonRejected, match="not valid JSON"):
            load_json(raw)


def test_depth() -> None:
    assert depth(1) == 0
    assert depth({}) == 1
    assert depth({"a": [1, {"b": []}]}) == 4


def test_a_deeply_nested_corrected_data_is_a_validation_problem(registry: SchemaRegistry) -> None:
    raw = {
        "type": "correction",
        "subject": SUBJECT,
        "data": {
            "original_event_id": "x-1",
            "original_event_type": "address.changed",
            "reason": "typo",
            "corrected_data": "[" * 950 + "]" * 950,
        },
    }
    with pytest.raises(EventValidationError) as info:
        build_event(raw, "council-tax", registry, RuleConfig().at(NOW))
    assert "nested too deeply" in str(info.value.problems)


# --- NUL, control and bidi characters ----------------------------------------------------


@pytest.mark.parametrize(
    "ch", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\u200f"]
)
def test_forbidden_characters(ch: str) -> None:
    assert forbidden_character(f"Ann{ch}e") == ch


def test_tabs_and_line_breaks_only_in_free_text() -> None:
    assert forbidden_character("line one\nline two", free_text=True) is None
    assert forbidden_character("line one\nline two") == "\n"
    assert forbidden_character("Zoë Ångström-O'Brien 李") is None
    assert forbidden_character("bad\x00", free_text=True) == "\x00"


def _by_category(ch: str, free_text: bool) -> bool:
    """The rule as first written: bidi controls, and Unicode's Cc category (line breaks and
    tabs allowed in free text)."""
    if ch in BIDI_CONTROLS:
        return True
    return unicodedata.category(ch) == "Cc" and not (free_text and ch in LINE_BREAKS)


@pytest.mark.parametrize("free_text", [False, True])
def test_forbidden_character_is_the_category_rule_for_every_code_point(free_text: bool) -> None:
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # surrogates: never in a decoded str
        ch = chr(code)
        expected = ch if _by_category(ch, free_text) else None
        assert forbidden_character(f"a{ch}b", free_text) == expected, hex(code)


@pytest.mark.parametrize(
    ("values", "locations"),
    [
        ({"a": {"b": ["ok", {"c": "x\x00"}]}}, ["a.b.1.c"]),
        ({"reason": "line\nbreak", "purpose": "tab\there", "name": "a\rb"}, ["name"]),
        ({"lines": ("one", "two\u2066")}, ["lines.1"]),
        ({"corrected_data": '{"name": "A\\u202eB"}'}, ["corrected_data.name"]),
        (
            {"n": {"corrected_data": '{"reason": "a\\nb", "name": "x\\u0007"}'}},
            ["n.corrected_data.name"],
        ),
        ({"name": "Zoë Ångström-O'Brien 李", "uprn": "100023336956", "n": 3}, []),
    ],
)
def test_every_forbidden_character_is_found_at_any_depth(
    values: dict[str, Any], locations: list[str]
) -> None:
    assert [p.location for p in character_problems(values)] == locations


def test_problems_name_the_field_never_the_value() -> None:
    problems = character_problems(
        {"new_address": {"lines": ["ok", "Flat\u202e 4"]}, "reason": "a\nb"}, "data."
    )
    assert [(p.location, p.rule) for p in problems] == [
        ("data.new_address.lines.1", "forbidden_character")
    ]
    assert "U+202E" in problems[0].message
    assert "Flat" not in problems[0].message


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": "person\x00-1"}, "subject"),
        ({"correlation_id": "call\u202e-1"}, "correlation_id"),
        ({"id": "ctax\x00"}, "id"),
    ],
)
def test_submission_envelope_fields(
    registry: SchemaRegistry, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(EventValidationError) as info:
        build_event(submission(**overrides), "council-tax", registry, RuleConfig().at(NOW))
    assert field in {p.location for p in info.value.problems}


def test_names_and_addresses_in_data(registry: SchemaRegistry) -> None:
    raw = submission()
    raw["data"]["new_address"]["lines"] = ["Rosemary\u2067 Cottage", "Topsham"]
    with pytest.raises(EventValidationError) as info:
        build_event(raw, "council-tax", registry, RuleConfig().at(NOW))
    assert [(p.location, p.rule) for p in info.value.problems] == [
        ("data.new_address.lines.0", "forbidden_character")
    ]


def test_correction_data_is_checked_inside(registry: SchemaRegistry) -> None:
    raw = {
        "type": "correction",
        "subject": SUBJECT,
        "data": {
            "original_event_id": "x-1",
            "original_event_type": "name.changed",
            "reason": "typo",
            "corrected_data": {
                "previous_name": {"given_names": "Ann", "family_name": "Lee"},
                "new_name": {"given_names": "Ann", "family_name": "Lee\u202eeeL"},
                "effective_date": "2026-03-14",
                "reason": "marriage",
            },
        },
    }
    with pytest.raises(EventValidationError) as info:
        build_event(raw, "council-tax", registry, RuleConfig().at(NOW))
    assert {p.location for p in info.value.problems} == {"data.corrected_data.new_name.family_name"}


def test_kafka_direct_events_are_checked_too(registry: SchemaRegistry) -> None:
    """The router re-validates whatever is on an events topic with the same rule."""
    event = build_event(submission(), "council-tax", registry, RuleConfig().at(NOW))
    data = dict(event.data)
    data["new_address"] = {**data["new_address"], "lines": ["Mill\x00Lane"]}
    forged = event.model_copy(
        update={"data": data, "envelope": event.envelope.model_copy(update={"subject": "p\u202e"})}
    )
    codec = AvroCodec(registry)
    record = codec.encode_event(forged)
    with pytest.raises(RecordRejected) as info:
        accept_record(
            record.value, record.headers, codec, frozenset({"council-tax"}), RuleConfig().at(NOW)
        )
    assert info.value.rules == ("forbidden_character",)
    assert "subject" in str(info.value) and "data.new_address.lines.0" in str(info.value)


# --- the body size limit, enforced while the body streams in -------------------------------

LIMIT = 64 * 1024


def small_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=LIMIT)

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"read": len(await request.body())}

    @app.post("/model")
    async def model(body: dict[str, Any]) -> dict[str, int]:
        return {"keys": len(body)}

    return app


async def test_a_declared_length_over_the_limit_is_413_before_reading() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=small_app()), base_url="http://t"
    ) as client:
        response = await client.post("/raw", content=b"x" * (LIMIT + 1))
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "body_too_large"
        assert "HUB_API_MAX_BODY_BYTES" in response.json()["error"]["message"]
        ok = await client.post("/raw", content=b"x" * LIMIT)
        assert ok.json() == {"read": LIMIT}
        bad = await client.post("/raw", content=b"x", headers={"content-length": "1x"})
        assert bad.status_code == 400


@pytest.mark.parametrize("path", ["/raw", "/model"])
async def test_a_streamed_body_is_cut_off_at_the_limit(path: str) -> None:
    """100 MB sent chunked (no Content-Length): the app pulls little more than the limit."""
    pulled = 0
    chunk = b"x" * 16 * 1024

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(100 * 1024 * 1024 // len(chunk)):
            pulled += len(chunk)
            yield chunk

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=small_app()), base_url="http://t"
    ) as client:
        response = await client.post(path, content=body())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert pulled <= LIMIT + 2 * len(chunk)


async def test_json_limits_through_an_app() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/j")
    async def j(request: Request) -> dict[str, str]:
        load_json(await request.body())
        return {}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        response = await client.post("/j", content=json.dumps(1) + " ")
        assert response.status_code == 200
        response = await client.post("/j", content="[" * 950 + "]" * 950)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_json"
