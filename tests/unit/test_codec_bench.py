"""Smoke test of the codec benchmark: it runs, prints its table and returns positive figures."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bench.codec import CodecBenchResult, run_codec_bench
from hub.events.schemas import SchemaRegistry


def test_codec_bench_runs_and_reports_positive_figures(registry: SchemaRegistry) -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, color_system=None)

    result = run_codec_bench(registry, 200, console)

    assert isinstance(result, CodecBenchResult)
    assert result.events == 200
    assert result.avro_events_per_s > 0
    assert result.pydantic_events_per_s > 0
    assert result.ratio > 0
    assert result.target_avro_events_per_s == 50_000
    printed = out.getvalue()
    assert "Avro encode+decode" in printed
    assert "pydantic validate" in printed
    assert "50,000" in printed


def test_codec_bench_refuses_an_empty_run(registry: SchemaRegistry) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        run_codec_bench(registry, 0, Console(file=io.StringIO()))
