"""Action ids, block ids, view callback ids, the slash command and the events: every
name a Slack request can reach the app by. handlers/ bind these; tests/test_manifest.py
checks that each one is reachable through manifest.yml.

Action ids carry an index suffix (`quorum_answer:3`) where one block holds several
buttons, because Slack wants action ids unique within a block; handlers match the
prefix with the patterns below.
"""

from __future__ import annotations

import re

# --- actions in review DMs ----------------------------------------------------------------
ANSWER = "quorum_answer"  # a one-tap answer: a label, "A is better", "Looks right", "Confirm"
ANSWER_PATTERN = re.compile(rf"^{ANSWER}:\d+$")
PICK_LABEL = "quorum_pick_label"  # static_select of a single-label project with many labels
TICK_LABELS = "quorum_tick_labels"  # checkboxes / multi-select of a multi-label project
SUBMIT_LABELS = "quorum_submit_labels"
RATE = "quorum_rate"  # a Likert button: quorum_rate:<score>
RATE_PATTERN = re.compile(rf"^{RATE}:-?\d+$")
RATE_SELECT = "quorum_rate_select"  # the same as a select, when criteria are many
SAVE_RATING = "quorum_save_rating"  # "Save new ratings" while changing a rating
# One partial step of an answer made of several choices (a rank: quorum_step:<slot>); the
# task kind merges it into the draft and records the answer once it is complete.
STEP = "quorum_step"
STEP_PATTERN = re.compile(rf"^{STEP}:\d+$")
EDIT_RESPONSE = "quorum_edit_response"  # opens the correction modal
ADD_RATIONALE = "quorum_add_rationale"
SKIP = "quorum_skip"
FLAG = "quorum_flag"
CHANGE_ANSWER = "quorum_change_answer"
KEEP_ANSWER = "quorum_keep_answer"
FULL_CONVERSATION = "quorum_full_conversation"
# --- actions in modals and App Home -------------------------------------------------------
PAGE_NEXT = "quorum_page_next"
PAGE_PREVIOUS = "quorum_page_previous"
OPEN_ITEM = "quorum_open_item"
PAUSE = "quorum_pause"
RESUME = "quorum_resume"

ACTIONS: tuple[str | re.Pattern[str], ...] = (
    ANSWER_PATTERN,
    PICK_LABEL,
    TICK_LABELS,
    SUBMIT_LABELS,
    RATE_PATTERN,
    RATE_SELECT,
    SAVE_RATING,
    STEP_PATTERN,
    EDIT_RESPONSE,
    ADD_RATIONALE,
    SKIP,
    FLAG,
    CHANGE_ANSWER,
    KEEP_ANSWER,
    FULL_CONVERSATION,
    PAGE_NEXT,
    PAGE_PREVIOUS,
    OPEN_ITEM,
    PAUSE,
    RESUME,
)

# --- modals (view callback ids) and their input blocks ------------------------------------
CORRECTION_VIEW = "quorum_correction"
RATIONALE_VIEW = "quorum_rationale"
FLAG_VIEW = "quorum_flag_reason"
CONVERSATION_VIEW = "quorum_conversation"  # read-only, no submission
VIEW_CALLBACKS = (CORRECTION_VIEW, RATIONALE_VIEW, FLAG_VIEW)

CORRECTION_BLOCK = "correction"  # correction, correction_1, ... when the text is long
RATIONALE_BLOCK = "rationale"
FLAG_REASON_BLOCK = "flag_reason"
FLAG_NOTE_BLOCK = "flag_note"
TEXT_INPUT = "text"
CHOICE_INPUT = "choice"

# --- commands and events ------------------------------------------------------------------
COMMAND = "/quorum"
COMMANDS = (COMMAND,)
APP_HOME_OPENED = "app_home_opened"
EVENTS = (APP_HOME_OPENED,)


def indexed(action: str, index: int) -> str:
    return f"{action}:{index}"


def block(kind: str, assignment_id: int, *rest: object) -> str:
    """A block id naming what the block holds and for which assignment."""
    return ":".join([kind, str(assignment_id), *map(str, rest)])


MAX_ROW_ID = 2**63 - 1  # a BIGINT key: a larger number names no row


def assignment_of_block(block_id: str | None) -> int | None:
    """The assignment id in a block id made by block(), or None."""
    parts = (block_id or "").split(":")
    if len(parts) >= 2 and parts[1].isascii() and parts[1].isdigit() and len(parts[1]) <= 19:
        number = int(parts[1])
        return number if 0 < number <= MAX_ROW_ID else None
    return None


def correction_block(part: int) -> str:
    return CORRECTION_BLOCK if part == 0 else f"{CORRECTION_BLOCK}_{part}"
