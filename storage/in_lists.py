"""`column IN (a page of ids)` with the whole list bound as ONE parameter.

An expanding IN renders a new statement with a placeholder per value on every execution;
with 1,000 ids per page that rendering cost more than the query. Here the statement is
constant: PostgreSQL gets `= ANY(:ids)` with an array, SQLite `IN (SELECT value FROM
json_each(:ids))` with a JSON array; both use the column's index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import ARRAY, String, any_, bindparam, func, select


def one_of(column: Any, name: str, dialect: str) -> Any:
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    values = func.json_each(bindparam(name, type_=String)).table_valued("value")
    return column.in_(select(values.c.value))


def bound(values: Sequence[Any], dialect: str) -> Any:
    """The parameter value for `one_of`."""
    return list(values) if dialect == "postgresql" else orjson.dumps(list(values)).decode()
