"""`quorum export`: signed-off labels as training and evaluation data, with provenance."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from bot.cli.context import open_context
from bot.cli.output import errors, fail, progress_bar
from bot.exports.media import MediaCopier
from bot.media.store import MediaStore
from bot.runtime.settings import get_settings


def export(
    project: str = typer.Option(..., "--project", "-p"),
    format: str = typer.Option(  # noqa: A002
        "labels", "--format", "-f", help="labels | ratings | dpo | sft"
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output file (default: stdout)."),
    parquet: bool = typer.Option(False, "--parquet", help="Write Parquet to --out, not JSONL."),
    hf_dataset: Path | None = typer.Option(
        None, "--hf-dataset", help="Write a Hugging Face dataset folder (save_to_disk) here."
    ),
    ties_out: Path | None = typer.Option(
        None, "--ties-out", help="dpo: write ties and both-bad pairs here (JSONL)."
    ),
    status: list[str] = typer.Option([], "--status", help="signed_off or auto_accepted."),
    method: list[str] = typer.Option([], "--method", help="consensus, lead, review, auto or gold."),
    date_from: str | None = typer.Option(None, "--from", help="Signed off on/after (ISO date)."),
    date_to: str | None = typer.Option(
        None, "--to", help="Signed off up to (ISO date, inclusive)."
    ),
    min_agreement: float | None = typer.Option(None, "--min-agreement", help="e.g. 0.67"),
    since: bool = typer.Option(
        False, "--since", help="Only labels signed off after the last export of this format."
    ),
    pseudonymise: bool = typer.Option(
        False, "--pseudonymise", help="Replace reviewer and lead ids with stable salted hashes."
    ),
    form: str | None = typer.Option(
        None,
        "--form",
        help="dpo: explicit (default) or implicit (the prompt inside chosen/rejected); "
        "sft: messages (default) or prompt-completion; reward: scores (default) or pairs "
        "(chosen/rejected from rated responses to the same prompt).",
    ),
    no_content: bool = typer.Option(
        False, "--no-content", help="labels: leave the annotated content out (its hash stays)."
    ),
    with_media: Path | None = typer.Option(
        None,
        "--with-media",
        help="Copy the labels' media into this folder; rows then point at the copies.",
    ),
) -> None:
    """Export signed-off labels for training and evaluation, streamed, with provenance."""
    from bot.exports.outputs import open_outputs, parse_when
    from bot.exports.run import ExportRequest, check_export, run_export

    request = ExportRequest(
        project=project,
        format=format,
        statuses=tuple(status),
        methods=tuple(method),
        signed_from=parse_when(date_from, "--from"),
        signed_before=parse_when(date_to, "--to", end_of_day=True),
        min_agreement=min_agreement,
        since_last_run=since,
        pseudonymise=pseudonymise,
        form=form,
        content=not no_content,
    )
    request.check()
    if with_media is not None and out is None and hf_dataset is None:
        raise fail("--with-media needs --out or --hf-dataset: rows point at the copies from there")
    settings = get_settings()  # refused before the database is touched
    if pseudonymise:
        settings.require_own_secrets("QUORUM_EXPORT_SALT", command="quorum export --pseudonymise")
    ctx = open_context(settings)
    # Refused before any file is opened or the progress bar drawn: an earlier output stays.
    fmt = check_export(ctx.engine, request)
    outputs = open_outputs(fmt, out=out, parquet=parquet, hf_dataset=hf_dataset, ties_out=ties_out)
    with outputs as (sink, ties, where), progress_bar() as bar:
        task = bar.add_task(f"Exporting {format}", total=None)
        if with_media is not None:
            base = (out.parent if out is not None else hf_dataset) or Path.cwd()
            store = MediaStore.open(settings.media_store_url())
            sink = copier = MediaCopier(sink, store, with_media, relative_to=base.resolve())
        result = run_export(
            ctx.engine,
            request,
            sink=sink,
            ties=ties,
            now=ctx.clock.now(),
            salt=ctx.settings.quorum_export_salt,
            output=where,
            actor=os.environ.get("USER", "cli"),
            on_total=lambda n: bar.update(task, total=n),
            on_progress=lambda n: bar.advance(task, n),
        )
    summary = f"Exported {result.rows:,} {format} row(s) from {result.labels:,} label(s)"
    summary += f" to {where}" if where else ""
    if with_media is not None:
        summary += f", with {copier.copied:,} media file(s) in {with_media}"
    if result.set_aside:
        kept = f"written to {ties_out}" if ties_out else "left out"
        summary += f"; {result.set_aside:,} tie/both-bad pair(s) {kept}"
    if result.skipped:
        summary += f"; {result.skipped:,} label(s) did not fit the format"
    for reason, count in result.left_out.items():
        summary += f"; {count:,} left out ({reason})"
    errors.print(summary + ".", highlight=False, soft_wrap=True)
