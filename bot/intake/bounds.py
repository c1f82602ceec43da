"""The bounds every imported item is held to before its kind looks at it: its size, how
deeply it nests, and text that no store or Slack message can hold.

They guard what a record's schema cannot: pydantic, `json` and the audit hash recurse
(a few thousand nested brackets raise RecursionError), PostgreSQL stores neither NUL
nor NaN, and an id carrying control characters cannot be told apart in Slack or a
terminal. The same checks run for files (bot/intake/reading.py) and for records handed
over from Python, so every intake path refuses the same things.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from dataclasses import dataclass

from bot.runtime.settings import get_settings

DEFAULT_MAX_ITEM_BYTES = 1024 * 1024
MAX_NESTING = 32  # an item of any content type nests 6 deep; metadata gets room to spare
MAX_PROBLEMS_KEPT = 100  # per file; the rest are counted, not kept
MAX_PROBLEMS_PER_RECORD = 5

# NUL, lone surrogates (not Unicode; also how undecodable bytes are carried, below).
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
# C0, DEL and C1 control characters: invisible or destructive in ids.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# A NUL read from a file is carried as U+DC00 so that `json` and `csv` (which reject a raw
# NUL) pass it to the checks below, which name its field. Decoding never yields U+DC00:
# `surrogateescape` maps undecodable bytes to U+DC80..U+DCFF only.
NUL_STANDIN = "\udc00"


@dataclass(frozen=True)
class ItemLimits:
    max_bytes: int = DEFAULT_MAX_ITEM_BYTES
    max_depth: int = MAX_NESTING
    max_problems: int = MAX_PROBLEMS_KEPT

    @classmethod
    def from_settings(cls) -> ItemLimits:
        return cls(max_bytes=get_settings().quorum_max_item_bytes)

    def size_problem(self, size: int) -> str:
        return (
            f"the item is {describe_bytes(size)}, over the {describe_bytes(self.max_bytes)} "
            "item size cap (QUORUM_MAX_ITEM_BYTES)"
        )

    def depth_problem(self) -> str:
        return f"nested deeper than {self.max_depth} levels"


def describe_bytes(size: int) -> str:
    for unit, scale in (("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{size} bytes"


def encoded_size(data: object) -> int:
    """A record's size as JSON, for records that did not come from a file."""
    return len(json.dumps(data, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))


def field_name(path: tuple[object, ...]) -> str:
    """`conversation.0.content`, shortened for paths a hostile file made long."""
    parts = [str(part) for part in path]
    if len(parts) > 8:
        parts = [*parts[:6], "…", parts[-1]]
    name = ".".join(parts)
    return name if len(name) <= 120 else name[:119] + "…"


def _text_problem(text: str) -> str | None:
    found = _BAD_TEXT.search(text)
    if found is None:
        return None
    char = found.group()
    where = f"at character {found.start() + 1}"
    if char in ("\x00", NUL_STANDIN):
        return f"holds a NUL character {where}, which PostgreSQL cannot store"
    if "\udc80" <= char <= "\udcff":
        return (
            f"not UTF-8: byte 0x{ord(char) - 0xDC00:02x} {where} "
            "(Latin-1 or Windows-1252?); save the file as UTF-8"
        )
    return f"holds a lone surrogate \\u{ord(char):04x} {where}, which is not Unicode text"


def _id_problem(text: str) -> str | None:
    found = _CONTROL.search(text)
    if found is None:
        return None
    return (
        f"holds the control character U+{ord(found.group()):04X} at character "
        f"{found.start() + 1}; ids must be printable text"
    )


def _within_bounds(data: object, max_depth: int) -> bool:
    """value_problems() finds nothing: the same checks without paths, several times
    faster, for the records (nearly all) that pass."""
    pending: list[tuple[object, int, bool]] = [(data, 1, False)]
    pop, push = pending.pop, pending.append
    bad_text, control = _BAD_TEXT.search, _CONTROL.search
    while pending:
        value, depth, is_id = pop()
        if isinstance(value, str):
            if bad_text(value) or (is_id and control(value)):
                return False
        elif isinstance(value, dict):
            if depth > max_depth:
                return False
            for key, child in value.items():
                if not isinstance(key, str) or bad_text(key):
                    return False
                push((child, depth + 1, key == "id"))
        elif isinstance(value, list):
            if depth > max_depth:
                return False
            for child in value:
                push((child, depth + 1, False))
        elif isinstance(value, float) and not math.isfinite(value):
            return False
    return True


def value_problems(data: object, limits: ItemLimits) -> list[str]:
    """What in a parsed record (JSON values: dicts, lists, str, numbers) no store can
    hold, each as `field `path`: problem`. Iterative, so no nesting can overflow it."""
    if _within_bounds(data, limits.max_depth):
        return []
    problems: list[str] = []
    pending: deque[tuple[tuple[object, ...], object]] = deque([((), data)])
    while pending and len(problems) < MAX_PROBLEMS_PER_RECORD:
        path, value = pending.popleft()
        if isinstance(value, dict | list):
            if len(path) >= limits.max_depth:
                problems.append(f"field `{field_name(path)}`: {limits.depth_problem()}")
                continue
            if isinstance(value, dict):
                for key, child in value.items():
                    problem = _text_problem(key) if isinstance(key, str) else None
                    if problem:
                        problems.append(f"field `{field_name((*path, key))}`: its name {problem}")
                    pending.append(((*path, key), child))
            else:
                pending.extend(((*path, index), child) for index, child in enumerate(value))
        elif isinstance(value, str):
            problem = _text_problem(value)
            if problem is None and path and path[-1] == "id":
                problem = _id_problem(value)
            if problem:
                problems.append(f"field `{field_name(path)}`: {problem}")
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(f"field `{field_name(path)}`: {value!r} is not a number JSON can store")
    return problems
