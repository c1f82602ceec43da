"""What a project looks like from outside: the token's projects, and one project's items
by state, agreement, throughput, backlog and open escalations (the counts of
`quorum status` and the demo summary, storage.queries)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session

from bot.api.auth import Caller
from bot.api.items import PUBLIC_STATUS
from bot.audit.provenance import iso
from bot.runtime.context import QuorumContext
from storage import api_queries, queries
from storage.models import LabelMethod, Project

METHODS = LabelMethod.ALL


def visible_projects(ctx: QuorumContext, caller: Caller) -> dict[str, Any]:
    """A token is for one project: a list of one."""
    with Session(ctx.engine) as session:
        project = session.get(Project, caller.project_id)
    assert project is not None  # the caller's token names it
    return {
        "projects": [
            {
                "name": project.name,
                "kind": project.kind,
                "version": project.current_version,
                "created_at": iso(project.created_at),
            }
        ]
    }


def project_stats(ctx: QuorumContext, caller: Caller) -> dict[str, Any]:
    now = ctx.clock.now()
    with Session(ctx.engine) as session:
        outcomes = queries.project_outcomes(session, caller.project_id)
        statuses = queries.item_status_counts(session, caller.project_id)
        last_hour = api_queries.labels_signed_since(
            session, caller.project_id, now - timedelta(hours=1)
        )
        last_day = api_queries.labels_signed_since(
            session, caller.project_id, now - timedelta(hours=24)
        )
        escalations = api_queries.count_open_escalations(session, caller.project_id)
    counts = dict.fromkeys(PUBLIC_STATUS.values(), 0)
    for status, count in statuses.items():
        counts[PUBLIC_STATUS.get(status, "in_review")] += count
    methods = {method: outcomes["methods"].get(method, 0) for method in METHODS}
    methods.update(outcomes["methods"])
    labels = sum(methods.values())
    mean = outcomes["agreement"]
    return {
        "project": caller.project,
        "items": {**counts, "total": sum(statuses.values())},
        "answers": outcomes["answers"],
        "agreement": {
            "mean": float(mean) if mean is not None else None,
            "labels": labels,
            "by_method": methods,
            "shares": {m: (n / labels if labels else 0.0) for m, n in methods.items()},
        },
        "throughput": {"last_hour": last_hour, "last_24h": last_day},
        "backlog": counts["queued"] + counts["in_review"],
        "open_escalations": escalations,
    }
