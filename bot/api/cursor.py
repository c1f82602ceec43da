"""The labels feed's cursor: opaque to clients, a position in the feed's order inside
(base64url of a small JSON object: the label's commit position and its id)."""

from __future__ import annotations

import base64
import binascii
import json

from bot.api.errors import ApiError

START = (0, 0)  # before every label
_LARGEST = 2**63 - 1


def encode_cursor(position: tuple[int, int]) -> str:
    text = json.dumps({"p": position[0], "i": position[1]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    """The position a cursor names; ApiError 422 (field `after`) for anything this API
    did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        value = None
    if isinstance(value, dict) and set(value) == {"p", "i"}:
        position, label_id = value["p"], value["i"]
        if all(type(v) is int and 0 <= v <= _LARGEST for v in (position, label_id)):
            return position, label_id
    raise ApiError(
        422, "not a cursor of this feed: pass the `next` of a previous page", field="after"
    )
