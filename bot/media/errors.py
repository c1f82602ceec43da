"""The one error the media library raises: a message a person can act on."""

from __future__ import annotations


class MediaError(ValueError):
    """Media that cannot be accepted or rendered; the message names the problem
    ("truncated PNG: ...", "CSV has no column `lead_ii` (columns: t, lead_i)")."""


def library_message(exc: BaseException) -> str:
    """A decoder's own message, on one line, for wrapping into a MediaError."""
    # OS and FFmpeg errors carry "[Errno n] message: 'file'"; the message alone reads best.
    strerror = getattr(exc, "strerror", None)
    text = " ".join(str(strerror if isinstance(strerror, str) and strerror else exc).split())
    return text or type(exc).__name__
