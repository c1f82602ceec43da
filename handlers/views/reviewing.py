"""Binds the reviewer's modals (correction, rationale, flag) to their submission listeners."""

from __future__ import annotations

from slack_bolt import App

from bot.runtime.context import QuorumContext
from bot.slack import ids
from handlers.views.correction import make_correction_submission
from handlers.views.flag import make_flag_submission
from handlers.views.rationale import make_rationale_submission


def register(app: App, ctx: QuorumContext) -> None:
    app.view(ids.CORRECTION_VIEW)(make_correction_submission(ctx))
    app.view(ids.RATIONALE_VIEW)(make_rationale_submission(ctx))
    app.view(ids.FLAG_VIEW)(make_flag_submission(ctx))
