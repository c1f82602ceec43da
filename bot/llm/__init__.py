"""LLM assist: pre-labels and disagreement summaries through the official openai client.

Every call goes through one retry loop (bot.llm.client.call_with_retries) that
classifies failures into reasons a lead can read and never lets the API key out.
"""

from bot.llm.client import LLMCallFailed, LLMUnavailable, make_openai_client
from bot.llm.prelabel import (
    PreLabel,
    PreLabelFailed,
    prelabel_item,
    prelabel_many,
    prompt_template_hash,
)
from bot.llm.summary import SummaryFailed, summarize_disagreement

__all__ = [
    "LLMCallFailed",
    "LLMUnavailable",
    "PreLabel",
    "PreLabelFailed",
    "SummaryFailed",
    "make_openai_client",
    "prelabel_item",
    "prelabel_many",
    "prompt_template_hash",
    "summarize_disagreement",
]
