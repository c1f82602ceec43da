"""`quorum audit verify` on the terminal: the verdict, and the first broken link."""

from __future__ import annotations

from rich.panel import Panel
from rich.table import Table

from bot.audit.verify import VerifyReport


def render_verify_report(report: VerifyReport) -> Panel:
    """The verdict as a rich panel: the counts when intact, the first broken link if not."""
    checked = (
        f"{report.chains:,} chain(s), {report.events:,} event(s), "
        f"{report.checkpoints:,} checkpoint(s) checked"
    )
    if report.intact:
        return Panel(f"[green]Audit trail intact.[/green] {checked}.", title="quorum audit verify")
    first = report.problems[0]
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("problem", first.problem)
    if first.chain:
        table.add_row("chain", first.chain)
    if first.item_id is not None:
        external, project = report.items.get(first.item_id, ("(item row gone)", "?"))
        table.add_row("item", f"{external} (project {project}, item id {first.item_id})")
    if first.event_id is not None:
        table.add_row("event id", str(first.event_id))
    if first.seq is not None:
        table.add_row("seq", str(first.seq))
    if first.checkpoint_id is not None:
        table.add_row("checkpoint", str(first.checkpoint_id))
    if first.expected is not None:
        table.add_row("expected", first.expected)
        table.add_row("found", first.found or "")
    more = report.problem_count - 1
    footer = f"{checked}; {more} more problem(s) after this one." if more else f"{checked}."
    grid = Table.grid()
    grid.add_row(table)
    grid.add_row("")
    grid.add_row(footer)
    return Panel(
        grid, title="[red]Audit trail TAMPERED: first broken link[/red]", border_style="red"
    )
