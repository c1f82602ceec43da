"""`quorum status --project NAME`: the quality report of one project, read for the
terminal (bot/cli/render/quality.py and plots.py draw it)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from bot.quality.reviewer_stats import ProjectQuality, project_quality
from bot.workflow.project_versions import require_project


def load_project_quality(engine: Engine, name: str) -> ProjectQuality:
    """The quality report of one project; UnknownProjectError names the known ones."""
    with Session(engine) as session:
        return project_quality(session, require_project(session, name))
