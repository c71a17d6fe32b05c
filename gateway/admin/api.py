"""Operations declared once, with typed models: the router, the validator and the OpenAPI document.

An ``Operation`` names its method, path, permission and the pydantic models of its path, query,
body and response. ``Api.route`` wraps the handler so that every call goes through the same
steps, in this order: request id -> authentication (401) -> role permission (403) -> path, query
and body validation by the models (400/415/422) -> idempotency key (a stored answer is replayed
only to the same person, with a brand scope covering the original's) -> handler (brand scope 403,
business rules 404/409/422) -> response validated against its model. The OpenAPI 3.1 document
is generated from the same models, so the document and the validation cannot drift apart.
"""

from __future__ import annotations

import asyncio
import hashlib
import http
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import asyncpg
from aiohttp import web
from aiokafka.errors import KafkaError
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema

from . import problems
from .problems import Problem
from .rbac import Permission, Principal

log = logging.getLogger(__name__)

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
MAX_BODY = 1024 * 1024
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
SERVICES: web.AppKey[Any] = web.AppKey("services", object)
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 503)


class ProblemDoc(BaseModel):
    """RFC 9457 problem details, as every 4xx answer carries them."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str
    errors: list[dict[str, Any]] | None = None


@dataclass
class Operation:
    method: str
    path: str
    handler: Callable[..., Awaitable[Any]]
    operation_id: str
    summary: str
    tag: str
    permission: Permission | None  # None: any authenticated principal
    public: bool = False
    path_model: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: Any = None  # a model class, or any type pydantic can adapt
    status: int = 200
    extra_statuses: dict[int, Any] = field(default_factory=dict)  # status -> response model
    audited: bool = True
    extra_problems: tuple[int, ...] = ()  # problem statuses beyond ERROR_STATUSES (e.g. 429)

    @property
    def mutating(self) -> bool:
        return self.method in MUTATING


@dataclass
class Ctx:
    """What a handler gets besides its validated inputs."""

    request: web.Request
    services: Any
    principal: Principal | None
    request_id: str
    operation: Operation
    status: int | None = None  # a handler may choose another documented status (e.g. 202)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        assert self.principal is not None
        return self.principal.actor


class Api:
    def __init__(self, title: str, version: str) -> None:
        self.title = title
        self.version = version
        self.operations: list[Operation] = []

    def op(self, method: str, path: str, *, summary: str, tag: str, permission: Permission | None = None,
           public: bool = False, path_model: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
           body: type[BaseModel] | None = None, response: Any = None, status: int = 200,
           extra_statuses: dict[int, Any] | None = None, audited: bool = True,
           extra_problems: tuple[int, ...] = ()) -> Callable:
        def deco(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            self.operations.append(Operation(
                method=method, path=path, handler=fn, operation_id=fn.__name__, summary=summary, tag=tag,
                permission=permission, public=public, path_model=path_model, query=query, body=body,
                response=response, status=status, extra_statuses=dict(extra_statuses or {}), audited=audited,
                extra_problems=tuple(extra_problems)))
            return fn
        return deco

    # ------------------------------------------------------------------ routing
    def install(self, app: web.Application) -> None:
        for op in self.operations:
            app.router.add_route(op.method, op.path, self._wrap(op))

    def _wrap(self, op: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        adapters = {op.status: _adapter(op.response)}
        adapters.update({s: _adapter(m) for s, m in op.extra_statuses.items()})

        async def handle(request: web.Request) -> web.StreamResponse:
            services = request.app[SERVICES]
            request_id = request[REQUEST_ID]
            principal = None
            if not op.public:
                principal = await services.tokens.authenticate(request.headers.get("Authorization"))
                if op.permission is not None and not principal.can(op.permission):
                    if op.mutating and op.audited:
                        await services.trail.denied(principal, op, request_id, request.path, reason="forbidden")
                    raise Problem(403, "forbidden",
                                  f"role {principal.role.value} lacks permission {op.permission.value}")
            kwargs: dict[str, Any] = {}
            if op.path_model is not None:
                kwargs["path"] = _validate(op.path_model, dict(request.match_info), "path")
            if op.query is not None:
                kwargs["query"] = _validate(op.query, _query_dict(request, op.query), "query")
            raw = b""
            if op.body is not None:
                raw = await _read_body(request)
                kwargs["body"] = _validate_json(op.body, raw)
            ctx = Ctx(request, services, principal, request_id, op)
            key = request.headers.get("Idempotency-Key")
            try:
                if op.mutating and key is not None and principal is not None:
                    if not IDEMPOTENCY_KEY_RE.match(key):
                        raise Problem(400, "bad-idempotency-key",
                                      "Idempotency-Key must be 1-255 visible ASCII characters")
                    return await services.idempotency.run(principal, key, request.method, request.path,
                                                          _body_hash(request, raw),
                                                          lambda: _call(op, ctx, kwargs, adapters))
                return await _call(op, ctx, kwargs, adapters)
            except Problem as p:
                if p.status == 403 and op.mutating and op.audited and principal is not None:
                    await services.trail.denied(principal, op, request_id, request.path, reason=p.kind)
                raise

        handle.__name__ = op.operation_id
        return handle

    # ------------------------------------------------------------------ OpenAPI
    def openapi(self) -> dict[str, Any]:
        models: list[tuple[Any, str]] = [(ProblemDoc, "serialization")]
        for op in self.operations:
            for m in (op.path_model, op.query, op.body):
                if m is not None:
                    models.append((m, "validation"))
            for m in [op.response, *op.extra_statuses.values()]:
                if isinstance(m, type) and issubclass(m, BaseModel):
                    models.append((m, "serialization"))
        unique = list(dict.fromkeys(models))
        keys, top = models_json_schema(unique, ref_template="#/components/schemas/{model}")
        schemas = dict(top.get("$defs", {}))
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            entry: dict[str, Any] = {
                "operationId": op.operation_id,
                "summary": op.summary,
                "tags": [op.tag],
                "responses": {},
            }
            if op.permission is not None:
                entry["x-permission"] = op.permission.value
            entry["security"] = [] if op.public else [{"bearerAuth": []}]
            params = []
            for model, where in ((op.path_model, "path"), (op.query, "query")):
                if model is None:
                    continue
                schema = keys[(model, "validation")]
                props = schemas.get(_ref_name(schema), {}) if "$ref" in schema else schema
                required = set(props.get("required", []))
                for name, prop in props.get("properties", {}).items():
                    p = {"name": name, "in": where, "required": where == "path" or name in required,
                         "schema": prop}
                    if "description" in prop:
                        p["description"] = prop["description"]
                    params.append(p)
            if op.mutating:
                params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                               "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_RE.pattern},
                               "description": "Same key and body: the stored response; same key, other body: 409."})
            if params:
                entry["parameters"] = params
            if op.body is not None:
                entry["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": keys[(op.body, "validation")]}}}
            for status, model in [(op.status, op.response), *op.extra_statuses.items()]:
                entry["responses"][str(status)] = _response_doc(model, keys, schemas)
            statuses = (ERROR_STATUSES if not op.public else (400, 404, 422, 503)) + op.extra_problems
            for s in statuses:
                if op.public and s in (401, 403):
                    continue
                entry["responses"].setdefault(str(s), {
                    "description": problems.TITLES.get(s) or http.HTTPStatus(s).phrase,
                    "content": {problems.CONTENT_TYPE: {"schema": keys[(ProblemDoc, "serialization")]}}})
            paths.setdefault(_openapi_path(op.path), {})[op.method.lower()] = entry
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version,
                     "description": "Back Office API of the jackpot engine. Errors are RFC 9457 problem details."},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            },
        }


def _ref_name(schema: dict) -> str:
    return schema["$ref"].rsplit("/", 1)[-1]


def _openapi_path(path: str) -> str:
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)(:[^}]*)?\}", r"{\1}", path)


def _response_doc(model: Any, keys: dict, schemas: dict) -> dict[str, Any]:
    if model is None:
        return {"description": "No content"}
    if isinstance(model, type) and issubclass(model, BaseModel):
        schema = keys[(model, "serialization")]
    else:
        schema = TypeAdapter(model).json_schema(mode="serialization", ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _adapter(model: Any) -> TypeAdapter | None:
    return None if model is None else TypeAdapter(model)


def _validate(model: type[BaseModel], data: dict[str, Any], where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise problems.from_validation(exc, where) from None


def _query_dict(request: web.Request, model: type[BaseModel]) -> dict[str, Any]:
    """Query parameters; a parameter repeated for a list field keeps every value."""
    out: dict[str, Any] = {}
    for name in request.query.keys():
        values = request.query.getall(name)
        info = model.model_fields.get(name)
        is_list = info is not None and "list[" in str(info.annotation)
        out[name] = values if is_list else values[-1]
    return out


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Problem(413, "body-too-large", f"request body is larger than {MAX_BODY} bytes")
    ctype = request.headers.get("Content-Type", "")
    # read() returns what has arrived so far: a body split over packets (or sent after a
    # 100-continue) needs reading to its end, and its size checked as it comes
    chunks, size = [], 0
    while size <= MAX_BODY:
        chunk = await request.content.read(MAX_BODY + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    raw = b"".join(chunks)
    if len(raw) > MAX_BODY:
        raise Problem(413, "body-too-large", f"request body is larger than {MAX_BODY} bytes")
    if raw and ctype and not re.match(r"^application/([a-z.+-]*\+)?json\b", ctype.lower()):
        raise Problem(415, "unsupported-media-type", f"send application/json, not {ctype!r}")
    return raw


def _validate_json(model: type[BaseModel], raw: bytes) -> BaseModel:
    if not raw.strip():
        raise Problem(422, "validation-error", "a JSON request body is required",
                      errors=[{"location": ["body"], "message": "missing body", "code": "missing"}])
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "malformed-json", f"the request body is not valid JSON: {exc}") from None
    except RecursionError:  # nested deeper than the parser goes: no body of ours is
        raise Problem(400, "malformed-json", "the request body is nested too deeply") from None
    bad = _unstorable_text(doc, ["body"])
    if bad is not None:
        location, why = bad
        raise Problem(422, "validation-error", f"{'.'.join(map(str, location))}: {why}",
                      errors=[{"location": location, "message": why, "code": "string_unstorable"}])
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise problems.from_validation(exc, "body") from None


def _unstorable_text(value: Any, location: list) -> tuple[list, str] | None:
    """Where the first string of a request body is that PostgreSQL cannot store (text holds no
    NUL, and UTF-8 no lone surrogate half), and why; None when every string can be stored."""
    if isinstance(value, str):
        if "\x00" in value:
            return location, "contains a NUL character"
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            return location, "contains an unpaired UTF-16 surrogate"
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _unstorable_text(key, location) if isinstance(key, str) else None
        found = found or _unstorable_text(item, [*location, key])
        if found:
            return found
    return None


def _body_hash(request: web.Request, raw: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")) if raw.strip() else ""
    except ValueError:
        canonical = raw.decode(errors="replace")
    return hashlib.sha256(f"{request.method} {request.path}?{request.query_string}\n{canonical}".encode()).hexdigest()


async def _call(op: Operation, ctx: Ctx, kwargs: dict[str, Any], adapters: dict[int, TypeAdapter | None]) -> web.Response:
    result = await op.handler(ctx, **kwargs)
    status = ctx.status or op.status
    adapter = adapters.get(status)
    headers = {"X-Request-Id": ctx.request_id, **ctx.headers}
    if adapter is None:
        return web.Response(status=status, headers=headers)
    body = adapter.dump_json(adapter.validate_python(result, from_attributes=True))
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


@web.middleware
async def problem_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    """Request ids, and every error answered as problem+json (never a traceback)."""
    rid = request.headers.get("X-Request-Id", "")
    request[REQUEST_ID] = rid if REQUEST_ID_RE.match(rid) else str(uuid.uuid4())
    try:
        return await handler(request)
    except Problem as p:
        return problems.response(p, request.path, request[REQUEST_ID])
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status, "http-error")
        detail = {404: f"no such resource {request.path}",
                  405: f"{request.method} is not allowed on {request.path}"}.get(exc.status, exc.reason)
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return problems.response(Problem(exc.status, kind, detail, headers=headers), request.path,
                                 request[REQUEST_ID])
    except (KafkaError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, ConnectionError,
            asyncio.TimeoutError) as exc:
        log.error("dependency unavailable", extra={"request_id": request[REQUEST_ID], "error": repr(exc)})
        return problems.response(Problem(503, "unavailable", "a backing service is unavailable; retry shortly",
                                         headers={"Retry-After": "5"}), request.path, request[REQUEST_ID])
    except asyncpg.DataError as exc:  # a value PostgreSQL cannot store (e.g. a NUL in a path parameter)
        return problems.response(Problem(400, "bad-value", f"a value of the request cannot be stored: {exc}"),
                                 request.path, request[REQUEST_ID])
    except Exception:
        log.exception("unhandled error", extra={"request_id": request[REQUEST_ID], "path": request.path})
        return problems.response(Problem(500, "internal-error", "an internal error occurred; quote the request id"),
                                 request.path, request[REQUEST_ID])
