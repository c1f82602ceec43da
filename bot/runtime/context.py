"""What every service needs at hand: the database, the settings, the clock, randomness."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy import Engine

from bot.runtime.clock import SYSTEM_CLOCK, Clock
from bot.runtime.settings import Settings


@dataclass
class QuorumContext:
    engine: Engine
    settings: Settings
    clock: Clock = SYSTEM_CLOCK
    rng: random.Random = field(default_factory=random.Random)
