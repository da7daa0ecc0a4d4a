"""Every failure the web API reports, in one place: the typed domain errors of the service and the
adapter's own (auth, origin, limits, bad input) become a status and a JSON body
``{"error": "<code>", "message": "<sentence>"}``. Nothing else ever reaches a client: no
traceback, no echo of what was sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from flows.errors import (
    ConcurrentUpdate,
    ConversationNotFound,
    FlowNotFound,
    InvalidLocale,
    LeadNotFound,
    QualibotError,
)
from handoff.errors import DeliveryNotFound, EndpointNotFound, InvalidApiKey, InvalidInput

log = structlog.get_logger(__name__)

# Domain error -> (status, code). A subclass not listed takes its nearest listed base.
DOMAIN_ERRORS: Mapping[type[QualibotError], tuple[int, str]] = {
    ConversationNotFound: (404, "conversation_not_found"),
    FlowNotFound: (422, "unknown_flow"),
    InvalidLocale: (422, "unsupported_locale"),
    ConcurrentUpdate: (409, "conflict"),
    LeadNotFound: (404, "lead_not_found"),
    EndpointNotFound: (404, "webhook_not_found"),
    DeliveryNotFound: (404, "delivery_not_found"),
    InvalidInput: (422, "invalid_request"),
    InvalidApiKey: (401, "unauthorized"),
    QualibotError: (400, "bad_request"),
}

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def error_body(code: str, message: str, **extra: Any) -> bytes:
    return orjson.dumps({"error": code, "message": message, **extra})


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    return Response(
        error_body(code, message, **extra), status_code=status, headers=headers, media_type="application/json"
    )


class ApiError(HTTPException):
    """An expected failure of a request, with its machine-readable code."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status, message, dict(headers) if headers else None)
        self.code = code


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "body_too_large", f"the request body is over {limit} bytes")


class Unauthorized(ApiError):
    def __init__(
        self, message: str = "a valid conversation token is needed: Authorization: Bearer <token>"
    ) -> None:
        super().__init__(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


class RateLimited(ApiError):
    def __init__(self, what: str, retry_after: str) -> None:
        super().__init__(
            429,
            "too_many_requests",
            f"too many {what}: try again in {retry_after} s",
            {"Retry-After": retry_after},
        )


def domain_status(exc: QualibotError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in DOMAIN_ERRORS:
            return DOMAIN_ERRORS[cls]
    return DOMAIN_ERRORS[QualibotError]


async def _domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QualibotError)
    status, code = domain_status(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, code, str(exc), headers)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.code, str(exc.detail), exc.headers)
    code = STATUS_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), exc.headers)


def _where(loc: tuple[Any, ...]) -> str:
    """``choice`` for ``("body", "choice", "list[constrained-str]", 0)``: the field as the client
    named it, without pydantic's names for the union members it tried."""
    parts: list[str] = []
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        if isinstance(part, int):
            parts.append(str(part))
        elif isinstance(part, str) and part.isidentifier():
            parts.append(part)
        else:
            break
    return ".".join(parts) or (str(loc[0]) if loc else "request")


async def _validation_error(_request: Request, exc: Exception) -> Response:
    """422 with where and what, never the value that was sent (it may be megabytes of markup)."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": _where(tuple(e.get("loc", ()))), "problem": str(e.get("msg", ""))} for e in exc.errors()
    ]
    first = problems[0] if problems else {"field": "request", "problem": "invalid"}
    message = f"{first['field']}: {first['problem']}"
    return error_response(422, "invalid_request", message, problems=problems[:10])


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("request_failed", method=request.method, path=request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "something went wrong on our side; please try again")


def install(app: FastAPI) -> None:
    app.add_exception_handler(QualibotError, _domain_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
