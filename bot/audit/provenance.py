"""Provenance: for any label, who decided what, when, from which inputs, under which rules.

Two readers share this module. Exports attach a provenance block to every label, built
from one page of labels at a time (`PageSources`: one query per related table, never
one per label). `quorum provenance ITEM` shows one item's whole event chain as a
timeline (rendered by bot/cli/render/provenance.py), with the same block and a check of the
chain's hashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from bot.audit.chain import item_chain
from bot.audit.verify import check_chain
from bot.exports.pseudonyms import People
from bot.exports.writers import encode
from storage import audit_queries, label_queries, queries
from storage.models import Item, Project


def iso(moment: datetime | str | None) -> str | None:
    """ISO-8601 in UTC; export rows already carry their times as such strings."""
    if moment is None or isinstance(moment, str):
        return moment
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass
class PageSources:
    """Everything a page of labels' provenance needs, fetched in a few queries."""

    responses: dict[int, list[Any]] = field(default_factory=dict)
    prelabels: dict[int, list[Any]] = field(default_factory=dict)
    escalations: dict[int, Any] = field(default_factory=dict)
    heads: dict[str, audit_queries.ChainHead] = field(default_factory=dict)
    # item id -> event kind -> events: skips and changed answers
    history: dict[int, dict[str, list[Any]]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, item_ids: list[int]) -> PageSources:
        chains = [item_chain(i) for i in item_ids]
        return cls(
            responses=label_queries.response_rows(session, item_ids),
            prelabels=label_queries.prelabel_rows(session, item_ids),
            escalations=label_queries.escalation_rows(session, item_ids),
            heads=audit_queries.heads_of_chains(session, chains),
            history=label_queries.history_rows(session, item_ids),
        )


def _presentation(presentation: dict | None) -> dict | None:
    """How the reviewer saw the item; for pairs, which response was shown as A and B."""
    if not presentation:
        return None
    shown = dict(presentation)
    order = presentation.get("order")
    if isinstance(order, list) and len(order) == 2:
        shown["shown_as"] = {"A": order[0], "B": order[1]}
    return shown


def response_entries(rows: list[Any], people: People) -> list[dict]:
    return [
        {
            "reviewer": people.person(r.reviewer_id),
            "value": r.value,
            "rationale": people.text(r.rationale),
            "answered_at": iso(r.created_at),
            "latency_ms": r.latency_ms,
            "revision": r.revision,
            "changed_at": r.changed_at,
            "presentation": _presentation(r.presentation),
        }
        for r in rows
    ]


def answer_entries(
    responses: list[Any], history: dict[str, list[Any]], people: People
) -> list[dict]:
    """Each recorded answer with its flags and the values it replaced (oldest first),
    every value as JSON text (one column type whatever the kind)."""
    earlier: dict[int, list[dict]] = {}
    for event in history.get("answer_changed", []):
        earlier.setdefault(event.data.get("assignment_id"), []).append(
            {"value": encode(event.data.get("old")), "replaced_at": event.created_at}
        )
    entries = []
    for r in responses:
        presentation = r.presentation or {}
        order = presentation.get("order") or presentation.get("shown")
        entries.append(
            {
                "response_id": r.id,
                "reviewer": people.person(r.reviewer_id),
                "value": encode(r.value),
                "rationale": people.text(r.rationale),
                "flags": [
                    {
                        "reason": f.get("reason"),
                        "note": people.text(f.get("note")),
                        "at": f.get("at"),
                    }
                    for f in r.flags or []
                ],
                "latency_ms": r.latency_ms,
                "revision": r.revision,
                "answered_at": iso(r.created_at),
                "changed_at": r.changed_at,
                "shown_order": [str(o) for o in order] if isinstance(order, list) else None,
                "history": earlier.get(r.assignment_id, []),
            }
        )
    return entries


def skip_entries(history: dict[str, list[Any]], people: People) -> list[dict]:
    return [
        {
            "reviewer": people.person(event.data.get("reviewer") or event.actor),
            "at": event.created_at,
        }
        for event in history.get("skipped", [])
    ]


def prelabel_entries(rows: list[Any]) -> list[dict]:
    return [
        {
            "model": r.model,
            "prompt": r.prompt_name,
            "prompt_hash": r.prompt_hash,
            "value": r.value,
            "confidence": r.confidence,
            "error": r.error,
            "at": iso(r.created_at),
        }
        for r in rows
    ]


def escalation_entry(row: Any | None, people: People) -> dict | None:
    if row is None:
        return None
    return {
        "stage": row.stage,  # sign_off: the leads'; review: a senior reviewer's (`reviewer`)
        "reviewer": people.person(row.assignee),
        "reason": row.reason,
        "opened_at": iso(row.created_at),
        "summary": people.text(row.summary),
        "status": row.status,
        "resolved_by": people.person(row.resolved_by),
        "resolved_value": row.resolved_value,
        "rationale": people.text(row.resolution_rationale),
        "resolved_at": iso(row.resolved_at),
    }


def provenance_block(
    label: Any, sources: PageSources, config_hashes: dict[int, str], people: People
) -> dict:
    """The provenance of one signed-off label (a row with Label's column names)."""
    chain = item_chain(label.item_id)
    head = sources.heads.get(chain)
    # The sign-off is normally the chain's last event: its reason comes with the head.
    signed = head.data() if head is not None and head.kind == "signed_off" else {}
    return {
        "responses": response_entries(sources.responses.get(label.item_id, []), people),
        "prelabels": prelabel_entries(sources.prelabels.get(label.item_id, [])),
        "escalation": escalation_entry(sources.escalations.get(label.item_id), people),
        "sign_off": {
            "method": label.method,
            "by": people.person(
                label.signed_off_by or (head.actor if head is not None and signed else None)
            ),
            "at": iso(label.signed_off_at),
            "agreement": label.agreement,
            "confidence": label.confidence,
            "reason": people.text(signed.get("reason")),
        },
        "config": {
            "version": label.config_version,
            "hash": config_hashes.get(label.config_version),
        },
        "chain": {
            "name": chain,
            "head_seq": head.seq if head else None,
            "head_hash": head.hash if head else None,
        },
    }


# --- one item's history (`quorum provenance`) ---------------------------------------------


class UnknownItemError(LookupError):
    pass


class AmbiguousItemError(LookupError):
    pass


def find_item(session: Session, external_id: str, project: str | None) -> tuple[Item, Project]:
    project_id = None
    if project is not None:
        target = queries.get_project(session, project)
        if target is None:
            raise UnknownItemError(f"no project named {project!r}")
        project_id = target.id
    found = audit_queries.items_with_external_id(session, external_id, project_id)
    if not found:
        where = f" in project {project!r}" if project else ""
        raise UnknownItemError(f"no item with id {external_id!r}{where}")
    if len(found) > 1:
        names = ", ".join(p.name for _, p in found)
        raise AmbiguousItemError(
            f"item id {external_id!r} exists in several projects ({names}); "
            "choose one with --project"
        )
    return found[0]


def item_history(
    engine: Engine, external_id: str, *, project: str | None = None, people: People | None = None
) -> dict:
    """An item's facts, its label and provenance block, its events, and its chain's state."""
    people = people or People()
    with Session(engine) as session:
        item, owner = find_item(session, external_id, project)
        assert item.id is not None and owner.id is not None  # rows read from their tables
        events = audit_queries.chain_events(session, item_chain(item.id))
        label = queries.label_for_item(session, item.id)
        report = check_chain(events)
        block = None
        if label is not None:
            sources = PageSources.load(session, [item.id])
            hashes = label_queries.config_hashes(session, owner.id)
            block = provenance_block(label, sources, hashes, people)
    first = report.problems[0] if report.problems else None
    return {
        "item": {
            "id": item.external_id,
            "project": owner.name,
            "kind": owner.kind,
            "status": item.status,
            "content_hash": item.content_hash,
            "created_at": iso(item.created_at),
        },
        "label": None
        if label is None
        else {
            "value": label.value,
            "method": label.method,
            "agreement": label.agreement,
            "signed_off_at": iso(label.signed_off_at),
            "signed_off_by": people.person(label.signed_off_by),
        },
        "provenance": block,
        "chain": {
            "name": item_chain(item.id),
            "events": len(events),
            "head_hash": events[-1].hash if events else None,
            "intact": report.intact,
            "problem": first.problem if first else None,
            "problem_event_id": first.event_id if first else None,
        },
        "events": [
            {
                "seq": e.seq,
                "at": iso(e.created_at),
                "actor": people.person(e.actor),
                "kind": e.kind,
                "data": e.data,
                "hash": e.hash,
            }
            for e in events
        ],
    }
