"""The API's endpoints: each reads its parameters, then runs one service of bot/api in
the API's own threads (ApiRuntime.run: the caller's rate limit is taken before, on the
event loop), where the caller is authorised first. Bodies are
built as plain JSON by the services; the models in schemas.py describe them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from bot.api import feed, items, stats
from bot.api.errors import json_response
from bot.api.runtime import ApiRuntime
from bot.api.schemas import (
    DEFAULT_PAGE,
    ITEMS_BODY,
    MAX_CURSOR,
    MAX_IDEMPOTENCY_KEY,
    MAX_PAGE,
    ErrorEnvelope,
    ItemOut,
    LabelsPage,
    ProjectsOut,
    StatsOut,
    SubmitResult,
)

bearer = HTTPBearer(auto_error=False, description="A project's token, from `quorum token create`")
router = APIRouter(prefix="/v1")

_WHY = {
    400: "A body whose Content-Length is not a number",
    401: "No token, or an unknown or revoked one",
    403: "A read token that writes",
    404: "A project this token is not for (or none by that name), an item it does not "
    "hold, or a path the API does not have",
    405: "A method this path does not take",
    408: "A body not received within the read deadline",
    409: "Items imported before with other content, or an Idempotency-Key reused for "
    "another request",
    413: "A body over the size limit (QUORUM_API_MAX_BODY_BYTES, 10 MiB by default)",
    422: "Bad input; `details` names each field at fault (and item, by `index`)",
    429: "Over the token's rate limit: retry after `Retry-After` seconds",
    503: "The database is busy or unavailable; retry later (`Retry-After`)",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    429: {
        "Retry-After": {
            "schema": {"type": "integer", "minimum": 1},
            "description": "Seconds to wait",
            "required": True,
        }
    },
    503: {
        "Retry-After": {
            "schema": {"type": "integer", "minimum": 1},
            "description": "Seconds to wait",
            "required": True,
        }
    },
}
COMMON = (400, 401, 404, 405, 408, 413, 422, 429, 503)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    documented: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*COMMON, *statuses}):
        documented[status] = {"model": ErrorEnvelope, "description": _WHY[status]}
        if status in _HEADERS:
            documented[status]["headers"] = _HEADERS[status]
    return documented


def _api(request: Request) -> ApiRuntime:
    runtime: ApiRuntime = request.app.state.quorum
    return runtime


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@router.get(
    "/projects",
    response_model=ProjectsOut,
    responses=_errors(),
    summary="The projects this token may see",
)
async def list_projects(request: Request, credentials: Credentials) -> Response:
    api = _api(request)

    def work() -> Response:
        caller = api.auth.caller(_token(credentials))
        return json_response(200, stats.visible_projects(api.ctx, caller))

    return await api.run(request, _token(credentials), work)


@router.post(
    "/projects/{project}/items",
    status_code=201,
    response_model=SubmitResult,
    responses={
        200: {"model": SubmitResult, "description": "Nothing new: every item was known"},
        **_errors(403, 409),
    },
    openapi_extra={"requestBody": ITEMS_BODY},
    summary="Push items, validated as `quorum import` validates a file: all or nothing",
)
async def submit_items(
    request: Request,
    project: str,
    credentials: Credentials,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_IDEMPOTENCY_KEY,
            description="A retry with the same key and body returns the first answer",
        ),
    ] = None,
) -> Response:
    api = _api(request)
    body = await request.body()  # read already, within the limits (bot/runtime/server.py)

    def work() -> Response:
        caller = api.auth.caller(_token(credentials), project=project, write=True)
        done = items.submit_items(api.ctx, caller, body, idempotency_key=idempotency_key)
        return json_response(done.status, done.body, headers=done.headers)

    return await api.run(request, _token(credentials), work)


@router.get(
    "/projects/{project}/items/{id:path}",
    response_model=ItemOut,
    responses=_errors(),
    summary="One item's state, its answers so far, and its label once signed off",
)
async def item_state(request: Request, project: str, id: str, credentials: Credentials) -> Response:
    api = _api(request)

    def work() -> Response:
        caller = api.auth.caller(_token(credentials), project=project)
        return json_response(200, items.item_state(api.ctx, caller, id))

    return await api.run(request, _token(credentials), work)


@router.get(
    "/projects/{project}/labels",
    response_model=LabelsPage,
    responses=_errors(),
    summary="Signed-off labels in sign-off order, a page at a time",
)
async def labels(
    request: Request,
    project: str,
    credentials: Credentials,
    after: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR,
            description="The `next` of the previous page; leave out to start from the first label",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Labels per page")] = DEFAULT_PAGE,
) -> Response:
    api = _api(request)

    def work() -> Response:
        caller = api.auth.caller(_token(credentials), project=project)
        return json_response(200, feed.labels_page(api.ctx, caller, after=after, limit=limit))

    return await api.run(request, _token(credentials), work)


@router.get(
    "/projects/{project}/stats",
    response_model=StatsOut,
    responses=_errors(),
    summary="Items by state, agreement, throughput, backlog",
)
async def project_stats(request: Request, project: str, credentials: Credentials) -> Response:
    api = _api(request)

    def work() -> Response:
        caller = api.auth.caller(_token(credentials), project=project)
        return json_response(200, stats.project_stats(api.ctx, caller))

    return await api.run(request, _token(credentials), work)
