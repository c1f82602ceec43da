"""The one error type for failures the person running Quorum can fix themselves (a bad
setting, a missing file, an unknown project). Layers raise it with what went wrong and
what to do; the CLI prints it in one place (bot/cli/main.py), without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """`problem` says what is wrong and where; `fix`, when given, what to do about it."""

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None) -> None:
        super().__init__(problem if fix is None else f"{problem} {fix}")
        self.problem = problem
        self.fix = fix
