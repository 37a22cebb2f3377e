"""Stable event ids for connector input: the same row or change always gets the same id.

A re-import of the same file, an import resumed after a crash, or a change re-read after a
restart publishes the same ids, so the hub (and each recipient) de-duplicates it.
"""

from __future__ import annotations

import hashlib
import uuid

# A fixed namespace for the hub's connector ids (uuid5 names below are hashed under it).
CONNECTOR_NAMESPACE = uuid.UUID("6f1c2b0e-4d3a-5b8e-9c7f-2a1d0e3b4c5a")


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_row_event_id(sha256: str, source: str, event_type: str, row: int) -> str:
    """Row `row` (as a spreadsheet numbers it) of the file with content hash `sha256`."""
    return str(uuid.uuid5(CONNECTOR_NAMESPACE, f"file:{sha256}:{source}:{event_type}:{row}"))


def sql_change_event_id(connector: str, key: object) -> str:
    """The change row with key `key` read by the SQL connector `connector`."""
    return str(uuid.uuid5(CONNECTOR_NAMESPACE, f"sql:{connector}:{key}"))
