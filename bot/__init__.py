"""Quorum: expert annotation of AI data inside Slack."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# A checkout (or an editable install) has its files beside the packages; a wheel installs
# them as data files under <prefix>/share/quorum (pyproject.toml).
_DATA = REPO_ROOT if (REPO_ROOT / "prompts").is_dir() else Path(sys.prefix) / "share" / "quorum"
PROMPTS_DIR = _DATA / "prompts"
EXAMPLES_DIR = _DATA / "examples"
