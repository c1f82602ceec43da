"""Sample content as Slack mrkdwn within Block Kit's limits: a short preview for the DM
and the whole text, split into pages, for the "Show full conversation" modal.

Everything from a sample is escaped before it is measured or cut, so a cut never splits
an `&amp;` and nothing a sample says can ping a channel. Cuts prefer line boundaries
(lists keep whole items) and close a code block left open, reopening it on the next
chunk, so code keeps rendering as code on both sides of a cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    ImageBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.slack.text import escape_mrkdwn, role_name, same_kind
from bot.slack.wording import say

FENCE = "```"
# Slack allows 3000 characters per section; the margin covers clients that count
# characters outside the Basic Multilingual Plane (emoji) as two.
SECTION_CHARS = 2900
MARKER = "…"
# What a DM shows of a sample before offering the full conversation: enough to judge
# most items on a phone, little enough to keep the buttons near the text.
PREVIEW_CHARS = 6000
FOCUS_TURN_CHARS = 2400  # the turn under review (the last assistant reply)
OTHER_TURN_CHARS = 900
# One modal page: Slack allows 100 blocks; pages stay shorter so they open quickly on
# phones and each views.update stays small.
PAGE_BLOCKS = 40
PAGE_CHARS = 12_000
MAX_ALT_TEXT = 2000  # Slack's limit for an image block's alt_text


@dataclass(frozen=True)
class Picture:
    """An image shown above a part's turns; `file_id` is a Slack file id or a media
    placeholder the delivery worker replaces (bot/content/media.py)."""

    file_id: str
    alt: str


@dataclass(frozen=True)
class Part:
    """A titled run of turns: the conversation, or a preference item's prompt / A / B."""

    title: str | None
    turns: list[dict]
    focus: int | None = None  # index of the turn under review, shown with more room
    roles: bool = True  # head each turn with its role ("*User:*"); off for a lone response
    pictures: tuple[Picture, ...] = ()
    caption: str | None = None  # mrkdwn, escaped by its maker: the pictures' facts
    more_pictures: tuple[Picture, ...] = ()  # in the full view only (later pages)


def caption_block(caption: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=cut(caption, SECTION_CHARS)[0])])


def _picture_blocks(part: Part) -> list[Block]:
    blocks: list[Block] = [picture_block(p) for p in part.pictures]
    if part.caption:
        blocks.append(caption_block(part.caption))
    return blocks


def picture_block(picture: Picture) -> ImageBlock:
    alt = picture.alt[:MAX_ALT_TEXT] or "image"
    return ImageBlock(slack_file={"id": picture.file_id}, alt_text=alt)


@dataclass
class Preview:
    blocks: list[Block] = field(default_factory=list)
    truncated: bool = False
    # Files the full view shows and the preview does not: uploaded with the message, so
    # the full view (a modal, opened at once) finds them processed.
    prefetch: list[str] = field(default_factory=list)


# --- cutting text -------------------------------------------------------------------------


def _safe_end(text: str) -> str:
    """Drop a trailing, incomplete `&...;` entity so an escape is never cut in half."""
    amp = text.rfind("&")
    if amp != -1 and ";" not in text[amp:] and len(text) - amp <= 5:
        return text[:amp]
    return text


def _fence_open(text: str) -> bool:
    return text.count(FENCE) % 2 == 1


def cut(text: str, limit: int) -> tuple[str, bool]:
    """Escaped text cut to at most `limit` characters, at a line (else word) boundary,
    with an open code block closed; returns (text, was_cut)."""
    if len(text) <= limit:
        return text, False
    room = limit - len(MARKER) - len(FENCE) - 2
    head = text[:room]
    newline = head.rfind("\n")
    if newline >= room * 0.6:
        head = head[:newline]
    else:
        space = head.rfind(" ")
        if space >= room * 0.8:
            head = head[:space]
    head = _safe_end(head).rstrip()
    if _fence_open(head):
        head += "\n" + FENCE
    shown = f"{head}\n{MARKER}" if head.endswith(FENCE) else f"{head} {MARKER}"
    return same_kind(text, shown), True


def _hard_split(line: str, width: int) -> list[str]:
    pieces = []
    while len(line) > width:
        piece = _safe_end(line[:width]) or line[:width]
        pieces.append(piece)
        line = line[len(piece) :]
    pieces.append(line)
    return pieces


def split(text: str, limit: int = SECTION_CHARS) -> list[str]:
    """Escaped text in chunks of at most `limit` characters, split between lines; a code
    block crossing a boundary is closed at the end of one chunk and reopened in the next."""
    if len(text) <= limit:
        return [text]
    reserve = len(FENCE) * 2 + 2  # a closing fence here, a reopening one in the next chunk
    lines: list[str] = []
    for line in text.split("\n"):
        lines += _hard_split(line, limit - reserve)
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    in_code = False  # inside a code block at the end of `current`
    for line in lines:
        if current and size + len(line) + 1 > limit - reserve:
            body = "\n".join(current)
            chunks.append(body + ("\n" + FENCE if in_code else ""))
            current, size = ([FENCE], len(FENCE) + 1) if in_code else ([], 0)
        current.append(line)
        size += len(line) + 1
        if line.count(FENCE) % 2 == 1:
            in_code = not in_code
    if current:
        chunks.append("\n".join(current) + ("\n" + FENCE if in_code else ""))
    return chunks


# --- turns --------------------------------------------------------------------------------


def turn_heading(turn: dict) -> str:
    return f"*{escape_mrkdwn(role_name(str(turn.get('role', ''))))}:*"


def turn_body(turn: dict) -> str:
    return escape_mrkdwn(str(turn.get("content", "")))


def turn_section(turn: dict, limit: int, *, role: bool = True) -> tuple[SectionBlock, bool]:
    heading = turn_heading(turn) + "\n" if role else ""
    body, was_cut = cut(turn_body(turn) or " ", limit - len(heading))
    return SectionBlock(text=MarkdownTextObject(text=heading + body)), was_cut


def _gap(hidden: int) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=say("hidden_turns", count=hidden))])


def preview_blocks(
    parts: list[Part], *, max_blocks: int, max_chars: int = PREVIEW_CHARS
) -> Preview:
    """The DM's view of the sample: each part's first turn, the turn under review and
    the turns nearest to it, each cut; hidden turns are counted in a context line."""
    preview = Preview()
    per_part_chars = max(1200, max_chars // max(1, len(parts)))
    per_part_blocks = max(2, max_blocks // max(1, len(parts)))
    for part in parts:
        if part.title:
            preview.blocks.append(
                SectionBlock(text=MarkdownTextObject(text=f"*{escape_mrkdwn(part.title)}*"))
            )
        pictures = _picture_blocks(part)
        preview.blocks += pictures
        room = per_part_blocks - 1 - len(pictures)
        blocks, truncated = _part_preview(part, per_part_chars, max(1, room))
        preview.blocks += blocks
        preview.truncated = preview.truncated or truncated or bool(part.more_pictures)
        preview.prefetch += [p.file_id for p in part.more_pictures]
    return preview


def _part_preview(part: Part, max_chars: int, max_blocks: int) -> tuple[list[Block], bool]:
    turns = part.turns
    if not turns:
        return [], False
    focus = part.focus if part.focus is not None else len(turns) - 1
    limits = dict.fromkeys(range(len(turns)), OTHER_TURN_CHARS)
    limits[focus] = FOCUS_TURN_CHARS if len(turns) > 1 else min(max_chars, SECTION_CHARS)

    def cost(index: int) -> int:
        return min(len(turn_body(turns[index])), limits[index])

    # The turn under review, the opening turn (what was asked), then the turns nearest to
    # the one under review until the budget is spent: at most two gaps to mark.
    chosen = {focus}
    used = cost(focus)
    nearest = sorted(
        (i for i in range(len(turns)) if i != focus), key=lambda i: (i != 0, abs(i - focus), -i)
    )
    room = max_blocks - len(turns[focus].get("pictures", ()))
    for index in nearest:
        room -= len(turns[index].get("pictures", ()))
        if used + cost(index) > max_chars or len(chosen) + 3 > room:
            break
        chosen.add(index)
        used += cost(index)
    blocks: list[Block] = []
    truncated = False
    hidden = 0
    for index, turn in enumerate(turns):
        if index not in chosen:
            hidden += 1
            continue
        if hidden:
            blocks.append(_gap(hidden))
            truncated, hidden = True, 0
        section, was_cut = turn_section(turn, limits[index], role=part.roles)
        blocks.append(section)
        blocks += [picture_block(p) for p in turn.get("pictures", ())]  # its images, in place
        truncated = truncated or was_cut
    if hidden:
        blocks.append(_gap(hidden))
        truncated = True
    return blocks, truncated


# --- the full text, paged -----------------------------------------------------------------


def full_blocks(parts: list[Part]) -> list[tuple[Block, int]]:
    """Every turn of every part as (block, characters), each section within Slack's limit."""
    out: list[tuple[Block, int]] = []
    for part in parts:
        if part.title:
            title = f"*{escape_mrkdwn(part.title)}*"
            out.append((SectionBlock(text=MarkdownTextObject(text=title)), len(title)))
        out += [(block, 200) for block in _picture_blocks(part)]
        out += [(picture_block(p), 200) for p in part.more_pictures]
        for turn in part.turns:
            heading = turn_heading(turn) + "\n" if part.roles else ""
            chunks = split(turn_body(turn) or " ", SECTION_CHARS - len(heading))
            for number, chunk in enumerate(chunks):
                text = heading + chunk if number == 0 else chunk
                out.append((SectionBlock(text=MarkdownTextObject(text=text)), len(text)))
            out += [(picture_block(p), 200) for p in turn.get("pictures", ())]
    return out


def pages(
    parts: list[Part], *, max_blocks: int = PAGE_BLOCKS, max_chars: int = PAGE_CHARS
) -> list[list[Block]]:
    """The whole sample cut into modal pages of at most `max_blocks` blocks and about
    `max_chars` characters each (a page always holds at least one block)."""
    result: list[list[Block]] = [[]]
    size = 0
    for block, chars in full_blocks(parts):
        page = result[-1]
        if page and (len(page) + 1 > max_blocks or size + chars > max_chars):
            result.append([])
            size = 0
        result[-1].append(block)
        size += chars
    return result
