"""`hub config check|schemas`: the configuration IG keeps in git, and the event contracts."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, err, hub_settings

app = typer.Typer(
    help="Check the configuration: systems, agreements, connectors, and the Avro schemas.",
    no_args_is_help=True,
)


@app.command("check")
def config_check() -> None:
    """Validate systems.yaml, agreements/*.yaml and connectors.yaml; every problem with file, line and field."""
    from hub.config.settings_fit import settings_warnings
    from hub.connectors.config import mapping_warnings
    from runtime.connectors import connector_defs
    from runtime.wiring import wire

    w = wire(hub_settings())
    connectors = connector_defs(w)  # connectors.yaml too
    console.print(
        f"OK: {len(w.config.systems)} systems, {len(w.config.agreements)} agreements, "
        f"{len(w.registry.event_types)} event types, {len(connectors)} source connector{'' if len(connectors) == 1 else 's'}."
    )
    warnings = [
        *settings_warnings(w.settings, w.config, w.registry.event_types),
        *mapping_warnings(connectors, w.registry),
    ]
    for p in warnings:
        err.print(f"[yellow]warning:[/yellow] {p.location}: {p.message}", highlight=False)


@app.command("schemas")
def config_schemas(
    mode: Annotated[
        str | None,
        typer.Option(
            help="BACKWARD, FORWARD, FULL, their _TRANSITIVE forms, or NONE (default: HUB_SCHEMA_COMPATIBILITY)"
        ),
    ] = None,
) -> None:
    """Check every Avro schema version in schemas/avro against the earlier ones under the
    compatibility mode."""
    from hub.events.compatibility import CompatibilityMode, check_versions
    from hub.events.schemas import SchemaRegistry

    settings = hub_settings()
    try:
        chosen = CompatibilityMode((mode or settings.schema_compatibility).upper())
    except ValueError as exc:
        raise typer.BadParameter(
            ", ".join(m.value for m in CompatibilityMode), param_hint="--mode"
        ) from exc
    registry = SchemaRegistry.from_dir(settings.schema_dir)
    problems = []
    for event_type in sorted(registry.event_types):
        versions = [(s.version, s.raw) for s in registry.versions(event_type)]
        problems += check_versions(event_type, versions, chosen)
    if problems:
        for problem in problems:
            err.print(f"[red]incompatible:[/red] {problem}", highlight=False)
        raise typer.Exit(1)
    total = sum(len(registry.versions(t)) for t in registry.event_types)
    console.print(
        f"OK: {total} schema versions of {len(registry.event_types)} event types are {chosen.value} compatible."
    )
