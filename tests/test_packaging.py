"""A wheel carries what the bot reads at run time beside its code: every Slack wording
template, LLM prompt and example project (the demo's) is listed in pyproject.toml's
data files, which a wheel installs under <prefix>/share/quorum, where bot/__init__.py
looks when it runs outside a checkout."""

from __future__ import annotations

import tomllib
from pathlib import Path

from bot import REPO_ROOT

DATA_FOLDERS = ("prompts", "examples")


def test_every_prompt_and_example_file_goes_into_the_wheel():
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    listed: set[Path] = set()
    for target, patterns in config["tool"]["setuptools"]["data-files"].items():
        for pattern in patterns:
            for path in REPO_ROOT.glob(pattern):
                relative = path.relative_to(REPO_ROOT)
                assert target == f"share/quorum/{relative.parent}", (target, relative)
                listed.add(relative)
    present = {
        path.relative_to(REPO_ROOT)
        for folder in DATA_FOLDERS
        for path in (REPO_ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert present - listed == set(), "add these to [tool.setuptools.data-files]"
