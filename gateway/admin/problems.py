"""RFC 9457 problem details: every error the admin API answers has this one machine-readable shape.

Handlers raise ``Problem``; the middleware turns it (and aiohttp's own HTTP errors, and
validation errors) into ``application/problem+json``. Anything unexpected is logged with the
request id and answered as a 500 problem without internals, so a client never sees a traceback.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import ValidationError

PROBLEM_TYPE_BASE = "https://jackpot.example/problems/"
CONTENT_TYPE = "application/problem+json"

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(Exception):
    """An error answer: ``kind`` names the problem type (a stable slug clients can switch on)."""

    def __init__(self, status: int, kind: str, detail: str, *, title: str | None = None,
                 errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.title = title or TITLES.get(status, "Error")
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str, request_id: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            "request_id": request_id,
        }
        if self.errors is not None:
            doc["errors"] = self.errors
        doc.update(self.extra)
        return doc


def response(problem: Problem, instance: str, request_id: str) -> web.Response:
    return web.Response(
        status=problem.status,
        text=json.dumps(problem.body(instance, request_id), default=str),
        content_type=CONTENT_TYPE,
        headers={**problem.headers, "X-Request-Id": request_id},
    )


def from_validation(exc: ValidationError, where: str) -> Problem:
    """A pydantic error list as a 422 problem with one entry per failing field."""
    errors = []
    for e in exc.errors(include_url=False, include_context=False, include_input=False):
        loc = [where, *[str(p) for p in e.get("loc", ())]]
        errors.append({"location": loc, "message": e.get("msg", ""), "code": e.get("type", "")})
    summary = "; ".join(f"{'.'.join(x['location'])}: {x['message']}" for x in errors[:5])
    return Problem(422, "validation-error", f"invalid {where}: {summary}", errors=errors)


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", f"{what} not found")


def conflict(detail: str, kind: str = "conflict", **extra: Any) -> Problem:
    return Problem(409, kind, detail, **extra)


def unprocessable(detail: str, kind: str = "rule-violation", **extra: Any) -> Problem:
    return Problem(422, kind, detail, **extra)
