"""The migrations build exactly the tables, columns and indexes storage/models.py
declares, on both backends: a model change without its migration (or the reverse)
fails here."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_every_foreign_key_is_indexed():
    """SQLite checks a parent row's children when its key is written, and PostgreSQL
    when it is deleted; without an index that is a scan of the child table."""
    missing = []
    for table in SQLModel.metadata.sorted_tables:
        leading = {tuple(index.columns.keys())[0] for index in table.indexes}
        leading |= {
            tuple(c.columns.keys())[0]
            for c in table.constraints
            if c.__class__.__name__ in ("UniqueConstraint", "PrimaryKeyConstraint") and c.columns
        }
        for key in table.foreign_keys:
            if key.parent.name not in leading:
                missing.append(f"{table.name}.{key.parent.name}")
    assert missing == []
