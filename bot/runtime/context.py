"""What every service needs at hand: the database, the settings, the clock, randomness,
and the Slack workspace the bot is installed in."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy import Engine

from bot.runtime.clock import SYSTEM_CLOCK, Clock
from bot.runtime.settings import Settings


@dataclass(frozen=True)
class Workspace:
    """The workspace (and Enterprise Grid org) the bot's token belongs to, from auth.test.
    A bot installed in one workspace acts for it alone: requests naming another are
    refused (handlers/middleware.py)."""

    team_id: str
    enterprise_id: str | None = None
    enterprise_install: bool = False  # org-wide: every workspace of the org is ours

    def admits(self, team_id: str | None, enterprise_id: str | None) -> bool:
        if enterprise_id is not None and enterprise_id != self.enterprise_id:
            return False
        if self.enterprise_install:
            return enterprise_id is not None
        return team_id == self.team_id


@dataclass
class QuorumContext:
    engine: Engine
    settings: Settings
    clock: Clock = SYSTEM_CLOCK
    rng: random.Random = field(default_factory=random.Random)
    workspace: Workspace | None = None  # learned at start (Runtime.bind_workspace)
