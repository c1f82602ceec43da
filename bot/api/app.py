"""The API's FastAPI app: its routes, OpenAPI at /api/openapi.json and /api/docs, and the
error shape for every refusal FastAPI or Starlette makes on their own (validation,
unknown paths, wrong methods). bot/runtime/server.py mounts it under /api, behind the
body size limit and read deadline."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from bot.api.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    ApiError,
    code_for,
    detail,
    error_response,
)
from bot.api.routes import router
from bot.api.runtime import ApiRuntime, log_failure
from bot.runtime.context import QuorumContext

DESCRIPTION = """Push items to Quorum's reviewers and read their decisions back.

Authenticate with `Authorization: Bearer <token>` (`quorum token create --project NAME`).
Every error is `{"error": {"code", "message", "details": [{"field", "message", "index"?}]}}`.
The reference, with examples: docs/api.md."""


def _field(location: tuple[Any, ...]) -> str:
    """FastAPI's error location (`("query", "limit")`) as the field's name."""
    parts = [str(part) for part in location]
    if len(parts) > 1 and parts[0] in ("query", "path", "header", "cookie", "body"):
        parts = parts[1:]
    return ".".join(parts) or "request"


async def _invalid(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [detail(_field(tuple(e.get("loc", ()))), str(e.get("msg", ""))) for e in exc.errors()]
    return error_response(422, INVALID_REQUEST, "the request is not valid", details)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message, field = f"no such endpoint: {request.url.path} (see /api/docs)", "path"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message, field = f"{request.method} is not allowed here (allowed: {allowed})", "method"
    else:
        message, field = str(exc.detail), "request"
    return error_response(
        exc.status_code,
        code_for(exc.status_code),
        message,
        [detail(field, message)],
        headers=exc.headers,
    )


async def _refused(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _unforeseen(request: Request, exc: Exception) -> Response:
    log_failure(f"API {request.method} {request.url.path}", exc)
    return error_response(500, INTERNAL_ERROR, "an unexpected failure (logged)")


def build_api(ctx: QuorumContext) -> FastAPI:
    api = FastAPI(
        title="Quorum REST API",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        redirect_slashes=False,  # an unknown path is a 404 in the error shape, not a redirect
        exception_handlers={
            RequestValidationError: _invalid,
            HTTPException: _http,
            ApiError: _refused,
            Exception: _unforeseen,
        },
    )
    api.state.quorum = ApiRuntime(ctx)
    api.include_router(router)
    return api
