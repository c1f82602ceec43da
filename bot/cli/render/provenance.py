"""`quorum provenance` on the terminal: one item's events as a readable timeline."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duration(ms: int | None) -> str:
    seconds = (ms or 0) / 1000
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def describe_event(event_kind: str, data: dict, actor: str | None = None) -> str:
    """One line a person can read, for the kinds we know; key=value for the rest."""
    d = data
    known = {
        "item_created": lambda: (
            f"content {_short(d.get('content_hash', ''), 12)} from {d.get('source')}"
        ),
        "item_updated": lambda: f"content now {_short(d.get('content_hash', ''), 12)}",
        "routed": lambda: (
            ("to reviewers: " if d.get("to_humans") else "not to reviewers: ")
            + str(d.get("reason"))
        ),
        "prelabelled": lambda: (
            f"{d.get('model')} says {_short(d.get('value'))} "
            f"(confidence {d.get('confidence')}, prompt {d.get('prompt_name', d.get('prompt'))})"
        ),
        "prelabel_failed": lambda: f"{d.get('model')}: {_short(d.get('error') or d.get('reason'))}",
        "assigned": lambda: f"to {d.get('reviewer')}",
        "message_sent": lambda: f"channel {d.get('channel')}, ts {d.get('ts')}",
        "answered": lambda: (
            f"{d.get('reviewer')}: {_short(d.get('value'))} after {_duration(d.get('latency_ms'))}"
        ),
        "answer_changed": lambda: (
            f"{d.get('reviewer')}: {_short(d.get('old'))} -> {_short(d.get('new'))}"
        ),
        "rationale_added": lambda: f"{d.get('reviewer')}: {_short(d.get('rationale'))}",
        "skipped": lambda: f"{d.get('reviewer')} skipped",
        "flagged": lambda: (
            f"{d.get('reviewer')}: {d.get('reason')}"
            + (f" ({_short(d['note'])})" if d.get("note") else "")
        ),
        "reminder_sent": lambda: f"reminder {d.get('number')} to {d.get('reviewer')}",
        "reassigned": lambda: (
            f"from {d.get('from') or d.get('reviewer')}"
            + (f" to {', '.join(d['to'])}" if d.get("to") else "")
            + (f" ({d['reason']})" if d.get("reason") else "")
        ),
        "escalated": lambda: str(d.get("reason")),
        "escalation_reminder": lambda: f"reminder {d.get('reminder')} to {d.get('mentioned')}",
        "resolved": lambda: (
            f"{d.get('lead') or d.get('resolved_by') or actor} decided {_short(d.get('value'))}"
        ),
        "signed_off": lambda: (
            f"{_short(d.get('value'))} by {d.get('method')}"
            + (f" ({d['reason']})" if d.get("reason") else "")
        ),
    }
    if event_kind in known:
        try:
            return known[event_kind]()
        except (TypeError, ValueError, KeyError):
            pass
    return ", ".join(f"{k}={_short(v, 40)}" for k, v in d.items())


def render_history(history: dict) -> Group:
    item, chain = history["item"], history["chain"]
    head = Text.assemble(
        (f"{item['id']}", "bold"),
        f"  project {item['project']} ({item['kind']}), status {item['status']}",
    )
    table = Table(expand=True, show_lines=False)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("actor", no_wrap=True)
    table.add_column("event", no_wrap=True, style="bold")
    table.add_column("details", overflow="fold")
    for event in history["events"]:
        when = event["at"][:19].replace("T", " ") if event["at"] else ""
        table.add_row(
            when,
            event["actor"],
            event["kind"],
            Text(describe_event(event["kind"], event["data"], event["actor"])),
        )
    parts: list[Any] = [head, table]
    label, block = history["label"], history["provenance"]
    if label is not None and block is not None:
        config = block["config"]
        lines = [
            f"Label: {_short(label['value'], 200)} by {label['method']}"
            + (f", agreement {label['agreement']:.2f}" if label["agreement"] is not None else "")
            + (f", signed off by {block['sign_off']['by']}" if block["sign_off"]["by"] else ""),
            f"Config version {config['version']} (hash {(config['hash'] or '?')[:16]}…)",
        ]
        parts.append(Text("\n".join(lines)))
    if chain["intact"]:
        verdict = Text(
            f"Chain {chain['name']}: {chain['events']} event(s), intact; head {chain['head_hash']}",
            style="green",
        )
    else:
        verdict = Text(
            f"Chain {chain['name']} BROKEN at event {chain['problem_event_id']}: "
            f"{chain['problem']}",
            style="red",
        )
    parts.append(verdict)
    return Group(Panel(Group(*parts), title="quorum provenance"))
