"""A client's mistake in the service's log: one info line, without traceback and without the body.

BentoML's API wrapper (_bentoml_impl/server/app.py) calls `log_exception` for every validation error
and every 4xx it raises: an error record with the full traceback on the logger
`bentoml._internal.server.http_app`, and the traceback's message quotes the request. BentoML leaves
every log but its access log to Python's logging configuration ("all BentoML logs are logged under
the bentoml namespace", its logging guide), so a filter on that logger does the job without touching
BentoML's code: a client error becomes one line (method, route template, status, error type) on
`bentoml.serve.feijian`; a 5xx keeps its traceback.
"""

from __future__ import annotations

import logging

from bentoml.exceptions import BentoMLException
from pydantic import ValidationError

from serving.permissions import route_label

BENTOML_ERROR_LOGGER = "bentoml._internal.server.http_app"  # where BentoML's log_exception writes
logger = logging.getLogger("bentoml.serve.feijian")  # under BentoML's configured loggers


def client_error_status(exc: BaseException | None) -> int | None:
    """The 4xx status BentoML answers `exc` with, or None for a server error."""
    if isinstance(exc, ValidationError):
        return 400
    if isinstance(exc, BentoMLException) and exc.error_code.value < 500:
        return int(exc.error_code.value)
    return None


class ClientErrorsInOneLine(logging.Filter):
    """Drops BentoML's record of a 4xx and logs one line in its place; lets everything else through."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        status = client_error_status(exc)
        if status is None:
            return True
        # BentoML's message is "Exception on %s [%s]" % (path, method)
        args = record.args if isinstance(record.args, tuple) and len(record.args) == 2 else ("", "")
        path, method = (str(a) for a in args)
        logger.info("%s %s answered %d (%s)", method, route_label(path), status, type(exc).__name__)
        return False


def install() -> None:
    """Put the filter on BentoML's error logger (once; the service calls this when it starts)."""
    target = logging.getLogger(BENTOML_ERROR_LOGGER)
    if not any(isinstance(f, ClientErrorsInOneLine) for f in target.filters):
        target.addFilter(ClientErrorsInOneLine())
