"""`quorum demo`: the whole loop offline, on embedded defaults.

A fresh SQLite file, the bundled example projects, the Slack emulator, the real Bolt
app and serve loop, simulated reviewers who answer with a chosen accuracy (so some
disagree) and a simulated lead who settles escalations. Ends with a summary and exports.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session, select

from bot import EXAMPLES_DIR
from bot.exports.labels import export_labels
from bot.intake.importer import import_records, validate_file
from bot.projects import ProjectConfig, load_project_file
from bot.sandbox.harness import SlackSandbox
from bot.workflow.projects import apply_project
from storage.db import make_engine, session_scope, upgrade_schema
from storage.models import Assignment, Item, ItemStatus, Label, Project

EXAMPLE_PROJECTS = ["support-intent", "triage-rating", "code-preference", "legal-correction"]
DEMO_TIMEOUT_S = 50.0


def demo_config(config: ProjectConfig) -> ProjectConfig:
    """The example project with work hours switched off: the simulated reviewers work
    around the clock, and the demo must not wait for London's morning."""
    timing = config.timing.model_copy(update={"work_hours": (0, 0)})
    return config.model_copy(update={"timing": timing})


def _load_examples(database_url: str, *, llm_assist: bool = False) -> list[str]:
    engine = make_engine(database_url)
    upgrade_schema(engine)
    names = []
    with session_scope(engine) as session:
        for name in EXAMPLE_PROJECTS:
            config = demo_config(load_project_file(EXAMPLES_DIR / f"{name}.yml"))
            if llm_assist:  # `--llm-stub`: pre-labels and escalation summaries from the stub
                from bot.workflow.prelabelling import enable_llm_assist

                config = enable_llm_assist(config)
            apply_project(session, config, actor="demo")
            project = session.exec(select(Project).where(Project.name == name)).one()
            records = validate_file(EXAMPLES_DIR / f"{name}.jsonl", config)
            import_records(session, project, records, source=f"{name}.jsonl", actor="demo")
            names.append(name)
    engine.dispose()
    return names


def _assignment_id(message: dict) -> int | None:
    """The assignment a review DM belongs to, read from its buttons' values."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            try:
                value = json.loads(element.get("value") or "")
            except (TypeError, ValueError):
                continue
            if isinstance(value, dict) and "a" in value:
                return int(value["a"])
    return None


def _truth(item: Item, kind: str, rng: random.Random) -> Any:
    """What a careful expert would answer; simulated reviewers hit it with their accuracy."""
    if item.gold is not None:
        return item.gold
    if kind == "label":
        return (item.content.get("prediction") or {}).get("label")
    return None  # rating/preference/correction: the simulated reviewer picks plausibly


def _open_reviews(sandbox: SlackSandbox, reviewers: list[str]) -> list[tuple[str, dict, int]]:
    pending = []
    with Session(sandbox.ctx.engine) as session:
        for user in reviewers:
            for message in sandbox.dm(user):
                assignment_id = _assignment_id(message)
                if assignment_id is None:
                    continue
                assignment = session.get(Assignment, assignment_id)
                if assignment is not None and assignment.status == "pending":
                    pending.append((user, message, assignment_id))
    return pending


def _summary(engine, names: list[str]) -> Table:  # type: ignore[no-untyped-def]
    table = Table(title="Quorum demo: where every item ended up")
    for column in (
        "project",
        "kind",
        "items",
        "answered",
        "signed off",
        "auto",
        "waiting for a lead",
        "agreement",
    ):
        table.add_column(column, justify="left" if column in ("project", "kind") else "right")
    with Session(engine) as session:
        for name in names:
            project = session.exec(select(Project).where(Project.name == name)).one()
            items = session.exec(select(Item).where(Item.project_id == project.id)).all()
            labels = session.exec(select(Label).where(Label.project_id == project.id)).all()
            answered = session.exec(
                select(Assignment)
                .join(Item)
                .where(Item.project_id == project.id, Assignment.status == "answered")
            ).all()
            agreements = [label.agreement for label in labels if label.agreement is not None]
            table.add_row(
                name,
                project.kind,
                str(len(items)),
                str(len(answered)),
                str(sum(1 for label in labels if label.method != "auto")),
                str(sum(1 for label in labels if label.method == "auto")),
                str(sum(1 for item in items if item.status == ItemStatus.ESCALATED)),
                f"{sum(agreements) / len(agreements):.2f}" if agreements else "–",
            )
    return table


def run_demo(
    *,
    workdir: Path,
    accuracy: float = 0.85,
    seed: int = 7,
    console: Console | None = None,
    llm_stub: bool = False,
) -> dict[str, Path]:
    from bot.sandbox.leads import resolve_escalations
    from bot.sandbox.reviewers import answer_review

    console = console or Console()
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "quorum-demo.db"
    for stale in workdir.glob("quorum-demo.db*"):
        stale.unlink()
    database_url = f"sqlite:///{db_path}"
    names = _load_examples(database_url, llm_assist=llm_stub)
    rng = random.Random(seed)
    configs = {name: demo_config(load_project_file(EXAMPLES_DIR / f"{name}.yml")) for name in names}
    reviewers = sorted({r for c in configs.values() for r in c.reviewers})
    leads = sorted({lead for c in configs.values() for lead in c.leads})
    channels = sorted({c.escalation_channel for c in configs.values() if c.escalation_channel})
    overrides: dict[str, Any] = {}
    stub = None
    if llm_stub:
        from bot.workflow.prelabelling import start_llm_stub

        stub = start_llm_stub(overrides)
    console.print(f"[bold]Quorum demo[/bold] · {len(names)} example projects · database {db_path}")
    with SlackSandbox(
        database_url,
        users=reviewers + leads,
        channels=channels + ["C0DIGEST"],
        rng=random.Random(seed),
        background=True,
        settings_overrides=overrides,
    ) as sandbox:
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed} answers"),
            TimeElapsedColumn(),
            console=console,
        )
        with progress:
            task = progress.add_task("Reviewers answering in Slack", total=None)
            idle_rounds = 0
            while time.monotonic() - started < DEMO_TIMEOUT_S and idle_rounds < 8:
                work = _open_reviews(sandbox, reviewers)
                with Session(sandbox.ctx.engine) as session:
                    for user, message, assignment_id in work:
                        assignment = session.get(Assignment, assignment_id)
                        item = session.get(Item, assignment.item_id)
                        kind = configs[session.get(Project, item.project_id).name].kind
                        answer_review(
                            sandbox,
                            user,
                            message,
                            rng=rng,
                            accuracy=accuracy,
                            truth=_truth(item, kind, rng),
                        )
                        progress.advance(task)
                resolved = sum(resolve_escalations(sandbox, lead, rng=rng) for lead in leads[:1])
                idle_rounds = 0 if work or resolved else idle_rounds + 1
                time.sleep(0.3)
        exports = {}
        for name in names:
            path = workdir / f"{name}.labels.jsonl"
            with path.open("w", encoding="utf-8") as handle:
                export_labels(sandbox.ctx.engine, project=name, out=handle)
            exports[name] = path
        console.print(_summary(sandbox.ctx.engine, names))
    if stub is not None:
        stub.stop()
    console.print(
        f"Exports written to {workdir}/ ({', '.join(p.name for p in exports.values())}) "
        f"in {time.monotonic() - started:.1f} s."
    )
    return exports
