"""Tables a person reads at the terminal: where each project stands."""

from __future__ import annotations

from rich.table import Table
from sqlalchemy import Engine
from sqlmodel import Session

from storage import queries
from storage.models import ItemStatus

COLUMNS = list(ItemStatus.ALL)


def project_status_table(engine: Engine, project: str | None = None) -> Table:
    table = Table(title="Items by state")
    table.add_column("project", style="bold", no_wrap=True)
    for column in COLUMNS:
        table.add_column(column.replace("_", " "), justify="right")
    table.add_column("total", justify="right")
    with Session(engine) as session:
        projects = queries.list_projects(session)
        for p in projects:
            if project and p.name != project:
                continue
            assert p.id is not None  # a row read from the table has its key
            counts = queries.item_status_counts(session, p.id)
            table.add_row(
                p.name, *(str(counts.get(c, 0)) for c in COLUMNS), str(sum(counts.values()))
            )
    return table
