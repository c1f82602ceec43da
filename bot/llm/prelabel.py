"""LLM pre-labels: a suggested answer, with confidence and rationale, for one item.

A pre-label is a second opinion shown to reviewers (and a signal for routing), so it
must be trustworthy in shape: the request pins a strict JSON schema derived from the
project's config, and the answer is validated against that same config before use.
Each pre-label records the model and the prompt template's hash (its version). A media
item's request also carries the images a reviewer sees (bot/llm/vision.py), unless the
project sets `llm.send_images: false`; its recorded hash then covers them too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from bot.config.project import ProjectConfig
from bot.content.base import InvalidContent
from bot.content.media import media_of
from bot.kinds.base import InvalidAnswer, show_value
from bot.kinds.registry import kind_of
from bot.llm.client import (
    LLMCallFailed,
    MalformedOutput,
    call_with_retries,
    client_secret,
    redact,
)
from bot.llm.vision import (
    PromptImages,
    RenditionSource,
    default_store,
    prompt_digest,
    prompt_images,
    with_images,
)

log = logging.getLogger("bot.llm")

IMAGES_TEMPLATE = "images.j2"  # says what the attached images are, whatever the template


class PreLabelFailed(LLMCallFailed):
    """No usable pre-label; `reason` is shown to leads, e.g. "pre-label failed: timeout"."""


class PromptTemplateError(LookupError):
    """A prompt template that is missing or does not render; a deployment problem."""


@dataclass(frozen=True)
class PreLabel:
    value: object
    confidence: float
    rationale: str
    model: str
    prompt_name: str
    prompt_hash: str
    raw_output: str
    attempts: int
    images: tuple[str, ...] = ()  # "<medium sha256>:<rendition>" of each image sent


# --- prompt templates -------------------------------------------------------------------


def prompts_dir() -> Path:
    """The repo's `prompts/` folder (beside `bot/`), which teams edit without code."""
    return Path(__file__).resolve().parent.parent.parent / "prompts"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    root = prompts_dir()
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([root / "llm", root]),
        autoescape=False,  # prompts are plain text, not HTML
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly, not silently
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _template_source(prompt_name: str) -> str:
    environment = _environment()  # cached: the same Environment on every call
    assert environment.loader is not None  # _environment() always gives it a FileSystemLoader
    try:
        source, _filename, _uptodate = environment.loader.get_source(environment, prompt_name)
    except jinja2.TemplateNotFound:
        raise PromptTemplateError(
            f"prompt template {prompt_name!r} not found in {prompts_dir() / 'llm'}"
        ) from None
    return source


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def prompt_template_hash(prompt_name: str) -> str:
    """sha256 of the template file's content: the prompt version a pre-label records."""
    return _digest(_template_source(prompt_name))


@lru_cache(maxsize=64)
def _compiled(prompt_name: str, digest: str, source: str) -> jinja2.Template:
    """Compiled once per content version, so the hash always matches what was rendered."""
    try:
        return _environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise PromptTemplateError(
            f"prompt template {prompt_name!r} line {exc.lineno}: {exc.message}"
        ) from None


def _template(prompt_name: str) -> tuple[jinja2.Template, str]:
    source = _template_source(prompt_name)
    digest = _digest(source)
    return _compiled(prompt_name, digest, source), digest


def render_text(prompt_name: str, variables: dict[str, Any]) -> tuple[str, str]:
    """Render a template whole into text; return (text, template hash)."""
    template, digest = _template(prompt_name)
    try:
        return template.render(variables).strip(), digest
    except jinja2.TemplateError as exc:
        raise PromptTemplateError(f"prompt template {prompt_name!r}: {exc}") from None


def render_messages(prompt_name: str, variables: dict[str, Any]) -> tuple[list[dict], str]:
    """Render a template into chat messages; return (messages, template hash).

    The `system` and `user` blocks become those messages; without blocks the whole
    template is the user message.
    """
    template, digest = _template(prompt_name)
    try:
        if "user" in template.blocks:
            context = template.new_context(dict(variables))
            parts = {
                role: "".join(template.blocks[role](context)).strip()
                for role in ("system", "user")
                if role in template.blocks
            }
        else:
            parts = {"user": template.render(variables).strip()}
    except jinja2.TemplateError as exc:
        raise PromptTemplateError(f"prompt template {prompt_name!r}: {exc}") from None
    messages = [{"role": role, "content": text} for role, text in parts.items() if text]
    return messages, digest


# --- item content -> template variables ---------------------------------------------------


def item_variables(config: ProjectConfig, content: dict) -> dict[str, Any]:
    """Everything a prompt template may use; each key is always present (StrictUndefined)."""
    if not isinstance(content, dict):
        raise InvalidContent("item content is not an object")
    kind = kind_of(config)
    scale = config.scale
    variables: dict[str, Any] = {
        "kind": config.kind,
        "question": config.question,
        "description": config.description,
        "labels": list(config.labels),
        "multi_label": config.multi_label,
        "criteria": list(config.criteria),
        "scale_min": scale.min,
        "scale_max": scale.max,
        "scale_points": [
            {"score": s, "name": scale.label_for(s)} for s in range(scale.min, scale.max + 1)
        ],
        "options": [],
        "conversation": [],
        "context": [],
        "target": None,
        "prompt": [],
        "responses": [],
        "prediction": None,
        "media": [],  # the media items' stored facts (bot/content/media.py)
    }
    variables.update(kind.content_for(content).prompt_variables(content))
    variables.update(kind.prompt_variables(config, content))
    return variables


def request_messages(
    config: ProjectConfig, content: dict, media: RenditionSource | None = None
) -> tuple[list[dict], str, PromptImages]:
    """The chat messages of an item's pre-label request, the prompt hash it records, and
    the images it carries (from `media`, or the default store when None)."""
    messages, digest = render_messages(config.llm.prompt, item_variables(config, content))
    if not config.llm.send_images:
        return messages, digest, PromptImages()
    content_type = kind_of(config).content_for(content)
    images = prompt_images(content_type, content, media, project=config.name)
    if not images:
        return messages, digest, images
    intro, intro_digest = render_text(IMAGES_TEMPLATE, images.template_variables())
    digest = prompt_digest(digest, intro_digest, images)
    return with_images(messages, intro, images), digest, images


# --- output schema and validation ---------------------------------------------------------


def response_format(config: ProjectConfig) -> dict:
    """The strict json_schema response_format for a pre-label of this project."""
    schema = {
        "type": "object",
        "properties": {
            "value": kind_of(config).llm_value_schema(config),
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "rationale": {"type": "string"},
        },
        "required": ["value", "confidence", "rationale"],
        "additionalProperties": False,
    }
    return {
        "type": "json_schema",
        "json_schema": {"name": f"quorum_{config.kind}_prelabel", "strict": True, "schema": schema},
    }


def _strip_fences(raw: str) -> str:
    """Some compatible servers wrap JSON in ``` fences despite the schema; accept that."""
    text = raw.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()


def _check_value(config: ProjectConfig, content: dict, value: object) -> object:
    try:
        return kind_of(config).llm_value(config, content, value)
    except InvalidAnswer as exc:
        raise MalformedOutput(str(exc)) from None


def parse_output(config: ProjectConfig, raw: str, content: dict) -> tuple[object, float, str]:
    """(value, confidence, rationale) from the model's text, or MalformedOutput saying why."""
    try:
        data = json.loads(_strip_fences(raw))
    except json.JSONDecodeError:
        raise MalformedOutput("not JSON") from None
    if not isinstance(data, dict):
        raise MalformedOutput("not a JSON object")
    for key in ("value", "confidence", "rationale"):
        if key not in data:
            raise MalformedOutput(f"{key} missing")
    confidence = data["confidence"]
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise MalformedOutput("confidence is not a number")
    if not math.isfinite(confidence) or not 0.0 <= confidence <= 1.0:
        raise MalformedOutput(f"confidence {show_value(confidence)} outside 0..1")
    rationale = data["rationale"]
    if not isinstance(rationale, str):
        raise MalformedOutput("rationale is not text")
    return _check_value(config, content, data["value"]), float(confidence), rationale.strip()


def completion_text(completion: Any) -> str:
    """The answer's text, or MalformedOutput for refusals, cut-offs and empty answers."""
    choices = getattr(completion, "choices", None)
    if not choices:
        raise MalformedOutput("response has no choices")
    choice = choices[0]
    message = getattr(choice, "message", None)
    if message is None:
        raise MalformedOutput("response has no message")
    if getattr(message, "refusal", None):
        raise MalformedOutput("the model refused to answer")
    if getattr(choice, "finish_reason", None) == "length":
        raise MalformedOutput("answer cut off at the token limit")
    content = getattr(message, "content", None)
    if not isinstance(content, str) or not content.strip():
        raise MalformedOutput("empty answer")
    return content


# --- the calls ---------------------------------------------------------------------------


def prelabel_item(
    client: Any,
    config: ProjectConfig,
    content: dict,
    *,
    sleep: Callable[[float], None] = time.sleep,
    media: RenditionSource | None = None,
) -> PreLabel:
    """Ask the model for a pre-label of one item; retry transient failures. A media
    item's images are read from `media` (default: the media store of the settings).

    Raises PreLabelFailed with a readable reason (never containing the API key).
    """
    llm = config.llm
    try:
        messages, digest, images = request_messages(config, content, media)
    except (InvalidContent, PromptTemplateError) as exc:
        raise PreLabelFailed(f"pre-label failed: {exc}") from None
    secret = client_secret(client)
    fmt = response_format(config)

    def attempt() -> tuple[object, float, str, str, str]:
        completion = client.chat.completions.create(
            model=llm.model,
            messages=messages,
            response_format=fmt,
            temperature=llm.temperature,
            timeout=llm.timeout_s,
        )
        raw = completion_text(completion)
        value, confidence, rationale = parse_output(config, raw, content)
        return value, confidence, rationale, raw, getattr(completion, "model", None) or llm.model

    (value, confidence, rationale, raw, model), attempts = call_with_retries(
        attempt,
        what="pre-label",
        max_retries=llm.max_retries,
        secret=secret,
        sleep=sleep,
        error=PreLabelFailed,
    )
    log.debug("pre-label for %s: %s after %d attempt(s)", config.name, show_value(value), attempts)
    return PreLabel(
        value=value,
        confidence=confidence,
        rationale=rationale,
        model=model,
        prompt_name=llm.prompt,
        prompt_hash=digest,
        raw_output=raw,
        attempts=attempts,
        images=tuple(image.reference for image in images.images),
    )


def _has_media(content: dict) -> bool:
    return next(media_of(content), None) is not None


def _prelabel_or_failure(
    client: Any,
    config: ProjectConfig,
    content: dict,
    sleep: Callable[[float], None],
    media: RenditionSource | None,
) -> PreLabel | PreLabelFailed:
    try:
        return prelabel_item(client, config, content, sleep=sleep, media=media)
    except PreLabelFailed as exc:
        return exc
    except Exception as exc:  # a bug must not sink the whole batch
        reason = f"pre-label failed: unexpected error ({type(exc).__name__})"
        log.error("%s: %s", reason, redact(str(exc), client_secret(client)))
        return PreLabelFailed(reason)


def prelabel_many(
    client: Any,
    config: ProjectConfig,
    contents: dict[int, dict],
    *,
    on_result: Callable[[int, PreLabel | PreLabelFailed], None],
    sleep: Callable[[float], None] = time.sleep,
    media: RenditionSource | None = None,
) -> None:
    """Pre-label many items, at most `config.llm.concurrency` calls in flight; media
    items' images are read from `media` (default: the media store of the settings).

    `on_result(item_id, PreLabel | PreLabelFailed)` runs in the calling thread as each
    item finishes, so it may use the caller's database session.
    """
    if not contents:
        return
    if media is None and config.llm.send_images and any(map(_has_media, contents.values())):
        media = default_store()  # opened once for the batch, not per item
    workers = min(config.llm.concurrency, len(contents))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quorum-prelabel")
    try:
        futures: dict[Future[PreLabel | PreLabelFailed], int] = {
            pool.submit(_prelabel_or_failure, client, config, content, sleep, media): item_id
            for item_id, content in contents.items()
        }
        for future in as_completed(futures):
            on_result(futures[future], future.result())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
