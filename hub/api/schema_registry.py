"""Confluent Schema Registry API, read side (see hub.events.registry_view): no key needed,
the schemas are contracts, not personal data. Errors use the registry's own error model
(`{"error_code", "message"}`), which Confluent clients parse."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hub.events.registry_view import RegistryView

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
router = APIRouter(tags=["schemas"])


class RegistryError(BaseModel):
    error_code: int = Field(description="40401 subject, 40402 version, 40403 schema not found")
    message: str


class SchemaById(BaseModel):
    schema_: str = Field(alias="schema", description="The Avro schema as JSON text")
    schemaType: str = "AVRO"


class SchemaVersion(BaseModel):
    subject: str
    version: int
    id: int
    schema_: str = Field(alias="schema", description="The Avro schema as JSON text")
    schemaType: str = "AVRO"


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": RegistryError, "description": "No such subject, version or schema"}
}


def registry_view(request: Request) -> RegistryView:
    view = request.app.state.schema_view
    assert isinstance(view, RegistryView)
    return view


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status, media_type=CONTENT_TYPE)


def _missing(code: int, message: str) -> JSONResponse:
    return _json({"error_code": code, "message": message}, 404)


View = Annotated[RegistryView, Depends(registry_view)]


@router.get(
    "/schemas/ids/{schema_id}",
    response_model=SchemaById,
    responses=NOT_FOUND,
    operation_id="getSchemaById",
)
async def schema_by_id(schema_id: Annotated[int, Path(ge=0)], view: View) -> JSONResponse:
    """The schema with this id (the id in a record's Confluent wire-format header)."""
    text = view.schema(schema_id)
    if text is None:
        return _missing(40403, f"Schema {schema_id} not found")
    return _json({"schema": text, "schemaType": "AVRO"})


@router.get("/subjects", response_model=list[str], operation_id="listSubjects")
async def subjects(view: View) -> JSONResponse:
    """Every subject (`<topic>-value`, the TopicNameStrategy)."""
    return _json(view.subjects())


@router.get(
    "/subjects/{subject}/versions",
    response_model=list[int],
    responses=NOT_FOUND,
    operation_id="listSubjectVersions",
)
async def subject_versions(subject: str, view: View) -> JSONResponse:
    """The versions of a subject, oldest first."""
    versions = view.versions(subject)
    if versions is None:
        return _missing(40401, f"Subject '{subject}' not found.")
    return _json(versions)


@router.get(
    "/subjects/{subject}/versions/{version}",
    response_model=SchemaVersion,
    responses=NOT_FOUND,
    operation_id="getSubjectVersion",
)
async def subject_version(
    subject: str,
    version: Annotated[str, Path(pattern=r"^(latest|-1|[1-9][0-9]{0,8})$")],
    view: View,
) -> JSONResponse:
    """One version of a subject (`latest` or -1: the newest)."""
    if view.versions(subject) is None:
        return _missing(40401, f"Subject '{subject}' not found.")
    found = view.version(subject, None if version in ("latest", "-1") else int(version))
    if found is None:
        return _missing(40402, f"Version {version} not found.")
    return _json(
        {
            "subject": found.subject,
            "version": found.version,
            "id": found.schema_id,
            "schema": found.schema,
            "schemaType": "AVRO",
        }
    )
