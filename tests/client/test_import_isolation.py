"""quorum_client is usable without the server: importing it (and building a client)
loads httpx and the standard library, nothing of Quorum's server or its dependencies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVER_SIDE: tuple[str, ...] = (
    "bot",
    "handlers",
    "storage",
    "sqlmodel",
    "sqlalchemy",
    "slack_bolt",
)
SERVER_SIDE += ("slack_sdk", "fastapi", "starlette", "uvicorn", "pydantic", "alembic", "openai")

PROBE = """
import json, sys
import quorum_client
from quorum_client import Client, verify_webhook
Client("http://127.0.0.1:9", "qrm_token").close()
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_client_loads_none_of_the_server():
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
    )
    loaded = json.loads(done.stdout)
    assert "httpx" in loaded and "quorum_client.client" in loaded
    leaked = [m for m in loaded if m.split(".")[0] in SERVER_SIDE]
    assert leaked == []


def test_the_client_package_names_nothing_of_the_server():
    """No import of the server's packages anywhere in its source, even in a function a
    subprocess would not reach."""
    for path in sorted((REPO / "quorum_client").rglob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] not in SERVER_SIDE, f"{path.name}: {line}"


def test_the_package_is_marked_typed():
    assert (REPO / "quorum_client" / "py.typed").exists()
