"""The narrow port to Splink (DuckDB backend, embedded): train a model, match two extracts.

Everything else in hub.identity is pure; this is the only module that imports Splink or DuckDB.
Input rows are feature dicts (hub.identity.normalise.features) with a `unique_id`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]

from hub.identity.comparisons import BLOCKING_SQL, COMPARISONS, TRAINING_BLOCKS
from hub.identity.normalise import FEATURES

Row = Mapping[str, str | None]
Progress = Callable[[str], None]

# Splink logs chatter at INFO, and at WARNING the levels it could not train, in its own
# words, again at every predict; the hub says that once, at training (`untrained_levels`).
for _name in ("splink", "splink.internals"):
    logging.getLogger(_name).setLevel(logging.ERROR)


@dataclass(frozen=True)
class ScoredPair:
    left_id: str  # the reference's (hub person's) record
    right_id: str  # the service's record
    probability: float
    match_weight: float


def _arrow(rows: Sequence[Row]) -> pa.Table:
    columns: dict[str, list[str | None]] = {"unique_id": [str(r["unique_id"]) for r in rows]}
    for f in FEATURES:
        columns[f] = [r.get(f) for r in rows]
    return pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})


def settings(params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Splink settings: link two extracts with the hub's comparisons and blocking rules (and,
    given a trained model, its parameters)."""
    base: dict[str, Any] = {
        "link_type": "link_only",
        "unique_id_column_name": "unique_id",
        "comparisons": [c.splink() for c in COMPARISONS],
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": b, "sql_dialect": "duckdb"} for b in BLOCKING_SQL
        ],
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "probability_two_random_records_match": 1e-5,
    }
    if params is not None:
        base["probability_two_random_records_match"] = params[
            "probability_two_random_records_match"
        ]
        base["comparisons"] = params["comparisons"]
    return base


def _linker(
    left: Sequence[Row], right: Sequence[Row], params: Mapping[str, Any] | None, threads: int
) -> tuple[Any, duckdb.DuckDBPyConnection]:
    from splink import DuckDBAPI, Linker  # imported here: slow, and only the CLI needs it

    con = duckdb.connect(":memory:")
    con.execute(f"SET threads TO {max(1, threads)}")
    left_t, right_t = _arrow(left), _arrow(right)  # noqa: F841 (DuckDB reads them by name)
    con.execute("CREATE TABLE reference_extract AS SELECT * FROM left_t")
    con.execute("CREATE TABLE service_extract AS SELECT * FROM right_t")
    db = DuckDBAPI(connection=con)
    frames = [
        db.register("reference_extract", dataset_display_name="reference"),
        db.register("service_extract", dataset_display_name="service"),
    ]
    return Linker(frames, settings(params)), con


def train(
    left: Sequence[Row],
    right: Sequence[Row],
    *,
    seed: int = 16,
    max_pairs: float = 2e6,
    threads: int = 2,
    progress: Progress = lambda _: None,
) -> dict[str, Any]:
    """A model trained from the data: the prior from a deterministic rule, u probabilities by
    random sampling, m probabilities by expectation maximisation on several blocking passes."""
    linker, con = _linker(left, right, None, threads)
    try:
        progress("estimating the prior (exact date of birth and postcode)")
        linker.training.estimate_probability_two_random_records_match(
            [
                {"blocking_rule": 'l."dob" = r."dob" AND l."postcode" = r."postcode"'},
                {"blocking_rule": 'l."dob" = r."dob" AND l."family" = r."family"'},
            ],
            recall=0.8,
        )
        progress("estimating u probabilities by random sampling")
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
        for block in TRAINING_BLOCKS:
            progress(f"expectation maximisation, blocked on {block}")
            linker.training.estimate_parameters_using_expectation_maximisation(
                {"blocking_rule": block, "sql_dialect": "duckdb"}
            )
        saved: dict[str, Any] = linker.misc.save_model_to_json()
        untrained = untrained_levels(saved)
        if untrained:
            progress(
                "levels the data did not train (Splink's default probability is used for "
                f"them): {'; '.join(untrained)}"
            )
        return saved
    finally:
        con.close()


def untrained_levels(params: Mapping[str, Any]) -> list[str]:
    """Comparison levels (other than null) the data did not train, e.g. `nhs_number, exact
    match: u (never seen among random pairs)`; Splink scores them with its defaults."""
    why = {"m": "never seen among the blocked pairs", "u": "never seen among random pairs"}
    found = []
    for comparison in params.get("comparisons", []):
        name = comparison.get("output_column_name", "?")
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            label = level.get("label_for_charts", level.get("sql_condition", "?"))
            for p in ("m", "u"):
                if not isinstance(level.get(f"{p}_probability"), int | float):
                    found.append(f"{name}, {label}: {p} ({why[p]})")
    return found


def predict(
    params: Mapping[str, Any],
    left: Sequence[Row],
    right: Sequence[Row],
    *,
    threshold: float = 0.01,
    threads: int = 2,
) -> list[ScoredPair]:
    """Every blocked pair scoring at least `threshold`, with the trained parameters."""
    linker, con = _linker(left, right, params, threads)
    try:
        frame = linker.inference.predict(threshold_match_probability=threshold)
        rows = con.execute(
            "SELECT source_dataset_l, unique_id_l, unique_id_r, match_probability, match_weight "
            f"FROM {frame.physical_name}"
        ).fetchall()
        pairs = []
        for dataset_l, id_l, id_r, p, w in rows:
            if dataset_l == "reference":
                pairs.append(ScoredPair(str(id_l), str(id_r), float(p), float(w)))
            else:
                pairs.append(ScoredPair(str(id_r), str(id_l), float(p), float(w)))
        return pairs
    finally:
        con.close()


def levels_sql(left: Sequence[Row], right: Sequence[Row], params: Mapping[str, Any]) -> list[Any]:
    """The comparison-vector (gamma) values Splink computes for the cartesian pairs (tests)."""
    linker, con = _linker(left, right, params, 1)
    try:
        frame = linker.inference.score_pairs(
            [dict(r) for r in left],
            [dict(r) for r in right],
        )
        cols = ", ".join(f"gamma_{c.name}" for c in COMPARISONS)
        return list(
            con.execute(
                f"SELECT unique_id_l, unique_id_r, {cols}, match_probability "
                f"FROM {frame.physical_name}"
            ).fetchall()
        )
    finally:
        con.close()
