"""The hub's one error root and its specific subclasses."""

from __future__ import annotations

from dataclasses import dataclass


class HubError(Exception):
    """Root of every error the hub raises on purpose."""

    code: str = "hub_error"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a dotted path or file:line), which rule, and why."""

    location: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message} [{self.rule}]"


class ProblemsError(HubError):
    """An input with one or more problems, every one of them listed."""

    code = "invalid"

    def __init__(self, summary: str, problems: list[Problem]) -> None:
        self.summary = summary
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{summary}\n{lines}" if problems else summary)


class ConfigError(ProblemsError):
    """The YAML configuration (systems, agreements) is invalid; problems name file, line and field."""

    code = "config_invalid"


class EventValidationError(ProblemsError):
    """An event failed validation; problems name the field path and the rule."""

    code = "event_invalid"


class ExplainRequestInvalid(ProblemsError):
    """A request to explain a decision that names no source or an unknown recipient."""

    code = "explain_invalid"


class CodecError(HubError):
    """Bytes that are not a valid wire-format record for a known schema."""

    code = "codec_error"


class RecordRejected(HubError):
    """A Kafka record the hub will not route: undecodable, unknown source, or invalid."""

    code = "record_rejected"

    def __init__(self, reason: str, rules: tuple[str, ...]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rules = rules


class UnknownEventType(HubError):
    code = "unknown_event_type"


class AuthenticationError(HubError):
    """No credentials, or credentials that match no system (HTTP 401)."""

    code = "unauthenticated"


class PermissionDenied(HubError):
    """A known system asked for something its role does not allow (HTTP 403)."""

    code = "forbidden"


class NotFound(HubError):
    """What was asked for does not exist (for the caller): HTTP 404."""

    code = "not_found"


class Conflict(HubError):
    """The request contradicts what the hub already holds (HTTP 409)."""

    code = "conflict"


class EventIdConflict(Conflict):
    """A source re-used one of its event ids for other content (ids are per source)."""

    code = "event_id_conflict"


class BrokerError(HubError):
    """The Kafka broker could not be reached, started, or did not acknowledge a write."""

    code = "broker_unavailable"


class StackError(HubError):
    """A part of the running stack (broker, worker, API) failed to start or stopped unexpectedly."""

    code = "stack_error"
