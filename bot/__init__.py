"""Quorum: expert annotation of AI data inside Slack."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROMPTS_DIR = REPO_ROOT / "prompts"
EXAMPLES_DIR = REPO_ROOT / "examples"
