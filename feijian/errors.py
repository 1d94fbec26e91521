"""One error tree for the whole application.

Each error carries the process exit code the CLI uses and the HTTP status the service answers
with, so a failure reads the same on the terminal and over the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class FeijianError(Exception):
    """Base class: a message a user can act on (what, where, the value, the fix).

    `zh` is the same in Chinese for a person at the page (serving.messages), where one is given."""

    exit_code = 1
    http_status = 500

    def __init__(self, *args: object, zh: str | None = None) -> None:
        super().__init__(*args)
        self.zh = zh


class NotReadyError(FeijianError):
    """A stage ran before what it needs exists (no workspace, no snapshot, no champion)."""

    exit_code = 4
    http_status = 503


class InputError(FeijianError):
    """Bad input data or arguments: a missing file, table or column, an unreadable value."""

    exit_code = 2
    http_status = 400


class NotFoundError(InputError):
    """A record asked for by its id does not exist (a saved round, a pick)."""

    http_status = 404


class MissingTableError(InputError):
    pass


class MissingColumnError(InputError):
    pass


class RejectThresholdError(InputError):
    """Ingest quarantined more rows than the configured share allows."""

    exit_code = 3


class MissingWorkspaceTableError(MissingTableError, NotReadyError):
    """A stage found no table in the workspace: ingest has not run (or not for this table)."""


class ForbiddenError(FeijianError):
    """A valid token whose role does not allow the action (the service's guard, a case's transition)."""

    exit_code = 5
    http_status = 403


class ConfigError(FeijianError):
    exit_code = 2
    http_status = 500


def validation_problems(errors: Iterable[Mapping[str, Any]], skip: int = 0) -> list[str]:
    """pydantic's `ValidationError.errors()` in a user's words: `field: what is wrong (got value)` each.

    `skip` drops that many leading parts of every location, for a caller that names them itself
    (a rule by its id rather than `rules.3`).
    """
    out = []
    for e in errors:
        where = ".".join(str(p) for p in e["loc"][skip:])
        if e["type"] == "missing":
            what = "is missing"
        elif e["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            what = "is not a known field"
        elif e["type"] == "value_error":
            what = str(e["ctx"]["error"])
        else:
            what = f"{e['msg']} (got {e['input']!r})"
        out.append(f"{where}: {what}" if where else what)
    return out
