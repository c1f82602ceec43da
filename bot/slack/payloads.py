"""What buttons, options and modals carry back to us: small JSON documents naming the
assignment and the choice, so a click is self-describing and handlers need no lookups
to know what was pressed. Slack caps a button value at 2000 characters, an option value
at 150 and a modal's private_metadata at 3000; labels are carried as tokens that fit."""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_OPTION_VALUE = 150
_LONG_LABEL = "#"  # prefix of a hashed label token


def encode(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def decode(raw: str | None) -> dict[str, Any]:
    """The document behind a value or private_metadata; {} when it is not one of ours."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def label_token(label: str) -> str:
    """A label as an option value: itself when short enough, else a stable hash."""
    if len(label) <= 100:
        return label
    return _LONG_LABEL + hashlib.sha256(label.encode()).hexdigest()[:20]


def label_from_token(token: str, labels: list[str]) -> str | None:
    """The project's label a token stands for, or None when it names none of them."""
    if token in labels:
        return token
    for label in labels:
        if label_token(label) == token:
            return label
    return None
