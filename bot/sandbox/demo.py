"""`quorum demo`: the whole loop offline, on embedded defaults.

A fresh SQLite file, the bundled example projects, the Slack emulator, the real Bolt
app and serve loop, simulated reviewers who answer with a chosen accuracy (so some
disagree) and a simulated lead who settles escalations. Ends with a summary and exports.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot import EXAMPLES_DIR
from bot.config.project import ProjectConfig, load_project_file
from bot.exports.outputs import open_outputs
from bot.exports.run import ExportRequest, check_export, run_export
from bot.intake.importer import import_records, validate_file
from bot.kinds.registry import kind_of
from bot.runtime.settings import get_settings
from bot.sandbox.harness import SlackSandbox
from bot.workflow.project_versions import apply_project
from storage import queries
from storage.db import make_engine, session_scope, upgrade_schema
from storage.models import Item, Project

# Every example project with its items, one per task kind.
EXAMPLE_PROJECTS = sorted(
    path.stem for path in EXAMPLES_DIR.glob("*.yml") if path.with_suffix(".jsonl").exists()
)
DEMO_TIMEOUT_S = 50.0


def demo_config(config: ProjectConfig) -> ProjectConfig:
    """The example project with work hours switched off: the simulated reviewers work
    around the clock, and the demo must not wait for London's morning."""
    timing = config.timing.model_copy(update={"work_hours": (0, 0)})
    return config.model_copy(update={"timing": timing})


def _load_examples(database_url: str, *, llm_assist: bool = False) -> dict[int, ProjectConfig]:
    engine = make_engine(database_url)
    upgrade_schema(engine)
    configs: dict[int, ProjectConfig] = {}
    # The demo's own database, and so its media store beside it (unless one is set).
    settings = get_settings().model_copy(update={"database_url": database_url})
    with session_scope(engine) as session:
        for name in EXAMPLE_PROJECTS:
            config = demo_config(load_project_file(EXAMPLES_DIR / f"{name}.yml"))
            if llm_assist:  # `--llm-stub`: pre-labels and escalation summaries from the stub
                from bot.workflow.llm_projects import enable_llm_assist

                config = enable_llm_assist(config)
            apply_project(session, config, actor="demo")
            project = session.exec(select(Project).where(Project.name == name)).one()
            records = validate_file(EXAMPLES_DIR / f"{name}.jsonl", config, settings=settings)
            import_records(session, project, records, source=f"{name}.jsonl", actor="demo")
            assert project.id is not None  # loaded from the database, so it has its key
            configs[project.id] = config
    engine.dispose()
    return configs


def _truth(item: Item, config: ProjectConfig) -> Any:
    """What a careful expert would answer; simulated reviewers hit it with their accuracy.
    Gold answers where the example has them, else the kind's own idea (the model's label
    for label items, a stable per-item score per criterion for ratings, nothing for the
    rest: the simulated reviewer picks plausibly)."""
    if item.gold is not None:
        return item.gold
    return kind_of(config).demo_truth(config, item.external_id, item.content)


def _answer_open_reviews(
    sandbox: SlackSandbox,
    configs: dict[int, ProjectConfig],
    *,
    rng: random.Random,
    accuracy: float,
    done: set[int],
) -> int:
    """Answer every delivered review DM once. `done` remembers what was answered: the
    bot records answers after its ack, so the database may still show them pending."""
    from bot.sandbox.reviewers import answer_review

    with Session(sandbox.ctx.engine) as session:
        work = [
            (a, i) for a, i in queries.delivered_pending_assignments(session) if a.id not in done
        ]
    for assignment, item in work:
        assert assignment.id is not None  # loaded from the database, so it has its key
        # Delivered: the worker set channel and message_ts together when the DM was posted.
        assert assignment.channel is not None and assignment.message_ts is not None
        done.add(assignment.id)
        message = dict(sandbox.emulator.message(assignment.channel, assignment.message_ts))
        message["channel"] = assignment.channel
        config = configs[item.project_id]
        answer_review(
            sandbox,
            assignment.reviewer_id,
            message,
            rng=rng,
            accuracy=accuracy,
            truth=_truth(item, config),
        )
    return len(work)


def _undecided(sandbox: SlackSandbox) -> int:
    with Session(sandbox.ctx.engine) as session:
        return queries.undecided_item_count(session)


SUMMARY_COLUMNS = {
    "project": "",
    "kind": "",
    "items": "",
    "answers": "reviewer answers recorded",
    "agreed": "signed off by reviewer consensus (or gold)",
    "lead": "decided by a lead after an escalation",
    "auto": "auto-accepted: confident model prediction",
    "open": "still waiting for reviewers or a lead",
    "agreement": "mean share agreeing with the majority",
}


def _summary(engine: Engine, configs: dict[int, ProjectConfig]) -> Table:
    table = Table(title="Quorum demo: where every item ended up", caption=_caption())
    for column in SUMMARY_COLUMNS:
        table.add_column(
            column, justify="left" if column in ("project", "kind") else "right", no_wrap=True
        )
    with Session(engine) as session:
        for project_id, config in configs.items():
            outcome = queries.project_outcomes(session, project_id)
            methods = outcome["methods"]
            agreement = outcome["agreement"]
            decided = sum(methods.values())
            table.add_row(
                config.name,
                config.kind,
                str(outcome["items"]),
                str(outcome["answers"]),
                str(methods.get("consensus", 0) + methods.get("gold", 0)),
                str(methods.get("lead", 0)),
                str(methods.get("auto", 0)),
                str(outcome["items"] - decided),
                f"{agreement:.2f}" if agreement is not None else "–",
            )
    return table


def _caption() -> str:
    return " · ".join(f"{name}: {meaning}" for name, meaning in SUMMARY_COLUMNS.items() if meaning)


def _export(sandbox: SlackSandbox, configs: dict[int, ProjectConfig], workdir: Path) -> list[Path]:
    """Every project's labels with provenance, plus the training formats of its kind."""
    written = []
    for config in configs.values():
        formats = ["labels", *(f.name for f in kind_of(config).export_formats)]
        for export_format in formats:
            path = workdir / f"{config.name}.{export_format}.jsonl"
            request = ExportRequest(project=config.name, format=export_format)
            fmt = check_export(sandbox.ctx.engine, request)
            with open_outputs(fmt, out=path) as (sink, _ties, _where):
                run_export(
                    sandbox.ctx.engine,
                    request,
                    sink=sink,
                    now=sandbox.clock.now(),
                    salt=sandbox.ctx.settings.quorum_export_salt,
                    actor="demo",
                )
            written.append(path)
    return written


def run_demo(
    *,
    workdir: Path,
    accuracy: float = 0.85,
    seed: int = 7,
    console: Console | None = None,
    llm_stub: bool = False,
) -> list[Path]:
    from bot.sandbox.leads import resolve_escalations

    console = console or Console()
    if not console.is_terminal:
        console = Console(width=120)  # a log file or pipe: keep the summary table readable
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "quorum-demo.db"
    for stale in workdir.glob("quorum-demo.db*"):
        stale.unlink()
    database_url = f"sqlite:///{db_path}"
    configs = _load_examples(database_url, llm_assist=llm_stub)
    rng = random.Random(seed)
    reviewers = sorted({r for c in configs.values() for r in c.reviewer_ids})
    leads = sorted({lead for c in configs.values() for lead in c.leads})
    channels = sorted({c.escalation_channel for c in configs.values() if c.escalation_channel})
    digests = sorted({c.digest_channel for c in configs.values() if c.digest_channel})
    # Development mode: the demo's own offline world may use the published default
    # audit key and export salt, which `quorum serve` and friends refuse.
    overrides: dict[str, Any] = {"quorum_dev": True}
    stub = None
    if llm_stub:
        from bot.sandbox.openai_stub import start_llm_stub

        stub = start_llm_stub(overrides)
    console.print(
        f"[bold]Quorum demo[/bold] · {len(configs)} example projects · {len(reviewers)} simulated "
        f"reviewers (accuracy {accuracy:.0%}) · database {db_path}"
    )
    with SlackSandbox(
        database_url,
        users=reviewers + leads,
        channels=channels + digests,
        rng=random.Random(seed),
        background=True,
        settings_overrides=overrides,
    ) as sandbox:
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[answers]} answers · {task.fields[decisions]} lead decisions"),
            TimeElapsedColumn(),
            console=console,
        )
        with progress:
            task = progress.add_task("Reviewing in Slack", total=None, answers=0, decisions=0)
            answers = decisions = 0
            answered_ids: set[int] = set()
            while time.monotonic() - started < DEMO_TIMEOUT_S and _undecided(sandbox):
                answered = _answer_open_reviews(
                    sandbox, configs, rng=rng, accuracy=accuracy, done=answered_ids
                )
                decided = resolve_escalations(sandbox, leads[0], rng=rng)
                answers, decisions = answers + answered, decisions + decided
                progress.update(task, answers=answers, decisions=decisions)
                if not answered and not decided:
                    time.sleep(0.2)  # the bot is still sending; look again shortly
        written = _export(sandbox, configs, workdir)
        console.print(_summary(sandbox.ctx.engine, configs))
    if stub is not None:
        stub.stop()
    console.print(f"Exports in {workdir}/: {', '.join(p.name for p in written)}")
    console.print(f"Done in {time.monotonic() - started:.1f} s.")
    return written
