"""Binds the reviewer's buttons and menus (review DMs, modals, App Home) to listeners."""

from __future__ import annotations

from slack_bolt import App

from bot.runtime.context import QuorumContext
from bot.slack import ids
from bot.workflow.review import interactions
from handlers.actions import change, conversation, home, labels, modals, rating, skip, step
from handlers.actions.answer import make_answer_listener


def register(app: App, ctx: QuorumContext) -> None:
    app.action(ids.PICK_LABEL)(make_answer_listener(ctx))
    app.action(ids.TICK_LABELS)(labels.make_tick_listener(ctx))
    app.action(ids.SUBMIT_LABELS)(labels.make_submit_listener(ctx))
    app.action(ids.RATE_PATTERN)(rating.make_rate_listener(ctx))
    app.action(ids.RATE_SELECT)(rating.make_rate_listener(ctx))
    app.action(ids.SAVE_RATING)(rating.make_save_listener(ctx))
    app.action(ids.STEP_PATTERN)(step.make_step_listener(ctx))
    app.action(ids.EDIT_RESPONSE)(
        modals.make_modal_listener(ctx, interactions.correction_view, takes_change=True)
    )
    app.action(ids.ADD_RATIONALE)(modals.make_modal_listener(ctx, interactions.rationale_view))
    app.action(ids.FLAG)(modals.make_modal_listener(ctx, interactions.flag_view))
    app.action(ids.SKIP)(skip.make_skip_listener(ctx))
    app.action(ids.CHANGE_ANSWER)(change.make_change_listener(ctx))
    app.action(ids.KEEP_ANSWER)(change.make_change_listener(ctx, keep=True))
    app.action(ids.FULL_CONVERSATION)(conversation.make_open_listener(ctx))
    app.action(ids.PAGE_NEXT)(conversation.make_page_listener(ctx))
    app.action(ids.PAGE_PREVIOUS)(conversation.make_page_listener(ctx))
    app.action(ids.OPEN_ITEM)(home.make_open_item_listener(ctx))
    app.action(ids.PAUSE)(home.make_pause_listener(ctx, resume=False))
    app.action(ids.RESUME)(home.make_pause_listener(ctx, resume=True))
