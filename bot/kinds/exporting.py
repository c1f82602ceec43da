"""What an export format is: a row builder per signed-off label and the Parquet schema of
its rows. Kinds declare the formats they export (bot.exports streams them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import pyarrow as pa

SET_ASIDE = "set_aside"  # a row kept out of the main file (ties, both-bad pairs)
LEFT_OUT = "left_out"  # a label that makes no row of this format; the row says why

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)

# The `labels` export's typed columns of a signed-off value, the same for every kind (each
# fills its own, the rest are null), so labels of projects of different kinds load as one
# table; the full value is beside them as JSON text.
VALUE_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("label", pa.string()),  # a single label
    ("labels", pa.list_(pa.string())),  # multi-label
    ("scores", pa.list_(pa.struct([("criterion", pa.string()), ("score", pa.float64())]))),
    ("chosen_id", pa.string()),  # the preferred response (a ranking's first)
    ("ranking", pa.list_(pa.string())),  # response ids, best first
    ("text", pa.string()),  # a correction's signed-off text
    ("changed", pa.bool_()),  # did the correction change the response
]


@dataclass
class Labelled:
    """One signed-off label as the builders see it."""

    id: str
    project: str
    kind: str
    value: Any
    status: str
    method: str
    agreement: float | None
    confidence: float | None
    config_version: int
    signed_off_at: str | None
    signed_off_by: str | None
    metadata: Any
    content_hash: str
    provenance: dict
    content: dict | None = None
    with_content: bool = True  # the labels format's content column (--no-content: null)
    criteria: list[str] = field(default_factory=list)
    scale: tuple[float, float] | None = None  # a rating project's (min, max) score
    media: list[dict] | None = None  # the stored media of the item (bot/content/media.py)
    imported_at: str | None = None
    # The reviewers' answers with their flags and earlier values, and who skipped the
    # item (bot.audit.provenance.answer_entries, skip_entries).
    answers: list[dict] = field(default_factory=list)
    skips: list[dict] = field(default_factory=list)


Row = dict[str, Any]
# (label, people) -> (destination, row); `people` pseudonymises reviewer ids.
Builder = Callable[[Labelled, Any], Iterator[tuple[str, Row]]]


class Gathering(Protocol):
    """Rows made from all of an export's rows at once (pairs of responses to the same
    prompt, from different items): takes each row as built, gives its own at the end."""

    def add(self, row: Row) -> None: ...

    def rows(self) -> Iterator[Row]: ...


@dataclass(frozen=True)
class Form:
    """Another layout of a format's rows, for trainers that read that one (TRL's implicit
    prompt, prompt/completion SFT): `reshape` turns a main-file row into it; with
    `gather`, the rows are instead gathered and the file holds what it makes of them."""

    name: str
    reshape: Callable[[Row], Row]
    schema: pa.Schema
    gather: Callable[[], Gathering] | None = None


@dataclass(frozen=True)
class ExportFormat:
    name: str
    needs_content: bool
    build: Builder
    schema: pa.Schema
    forms: tuple[Form, ...] = ()
    form: str | None = None  # the form these rows are in (None: the format's own)
    gather: Callable[[], Gathering] | None = None  # see Form.gather

    def in_form(self, name: str | None) -> ExportFormat:
        """This format with its rows in form `name` (None: as built); KeyError if it has
        no such form."""
        if name is None or name == self.form:
            return self
        form = next((f for f in self.forms if f.name == name), None)
        if form is None:
            raise KeyError(name)
        build = self.build

        def reshaped(label: Labelled, people: Any) -> Iterator[tuple[str, Row]]:
            for destination, row in build(label, people):
                yield destination, form.reshape(row) if destination == "row" else row

        return replace(self, build=reshaped, schema=form.schema, form=form.name, gather=form.gather)
