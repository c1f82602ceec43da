"""Processes and databases the benchmark runs: `quorum serve` from a checkout, the bare
Bolt baseline served by that checkout's HTTP server, the `quorum` CLI, and scratch
databases (a SQLite file, or a PostgreSQL database created and dropped by us).

Everything listens on and talks to 127.0.0.1 only. Every process started here is
stopped here, by its own pid.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-emulator-token"
CLK_TCK = os.sysconf("SC_CLK_TCK")
AUDIT_KEY = secrets.token_hex(32)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def git(checkout: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(checkout), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


@dataclass
class Checkout:
    """The code the servers run: a git checkout whose `bot`, `handlers` and `storage`
    packages come first on PYTHONPATH."""

    path: Path
    sha: str
    dirty: list[str]  # `git status --short` lines: the state of a working tree mid-change

    @classmethod
    def at(cls, path: Path) -> Checkout:
        path = path.resolve()
        sha = git(path, "rev-parse", "HEAD") or "unknown"
        status = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=all"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return cls(path, sha, [line for line in status.splitlines() if line.strip()])

    def env(self) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        for key in ("DATABASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
            environment.pop(key, None)
        environment = {k: v for k, v in environment.items() if not k.startswith("QUORUM_")}
        environment["PYTHONPATH"] = str(self.path)
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        return environment

    def probe(self) -> dict[str, Any]:
        """Where the server's packages really come from, and what its HTTP server is."""
        code = (
            "import json, inspect, bot, handlers, storage, slack_bolt, bot.runtime.server as s\n"
            "from bot.runtime.app import Runtime\n"
            "src = inspect.getsource(s)\n"
            "print(json.dumps({'bot': bot.__file__, 'handlers': handlers.__file__,\n"
            " 'storage': storage.__file__, 'slack_bolt': slack_bolt.version.__version__,\n"
            " 'server_names': sorted(n for n in vars(s) if not n.startswith('__')),\n"
            " 'server_kind': 'uvicorn' if 'uvicorn' in src else ('wsgiref' if 'wsgiref' in src\n"
            "   else 'other'),\n"
            " 'start_http': inspect.getsource(Runtime.start_http)}))\n"
        )
        done = subprocess.run(
            [PYTHON, "-c", code],
            env=self.env(),
            cwd="/",
            capture_output=True,
            text=True,
            check=True,
        )
        info = json.loads(done.stdout)
        for package in ("bot", "handlers", "storage"):
            if not Path(info[package]).resolve().is_relative_to(self.path):
                raise RuntimeError(f"{package} imports from {info[package]}, not {self.path}")
        return info


# ---- CPU time -------------------------------------------------------------------------------


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    return found


def process_tree(pid: int) -> list[int]:
    """A process and its live descendants (a supervisor's web processes, for instance)."""
    found: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        if current not in found:
            found.append(current)
            stack += _children(current)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and everything it started: all threads, live and
    finished, of the process and of its live descendants, plus the children it has
    already reaped (`quorum serve --workers N` runs web processes under a supervisor)."""
    total = 0.0
    stack, seen = [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = _stat(current)
        except OSError:
            continue  # gone meanwhile
        # utime, stime, cutime, cstime (fields 14-17 of stat, counted after the name)
        total += sum(int(f) for f in fields[11:15]) / CLK_TCK
        stack += _children(current)
    return total


# ---- processes ------------------------------------------------------------------------------


class ServerProcess:
    def __init__(self, name: str, process: subprocess.Popen, port: int, log: Path) -> None:
        self.name = name
        self.process = process
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}/slack/events"

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def wait_healthy(self, timeout_s: float = 60.0, path: str = "/healthz") -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.process.returncode}); see {self.log}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy after {timeout_s} s; see {self.log}")

    stop_s: float | None = None  # SIGTERM to exit
    killed: bool = False  # did not stop within the timeout: SIGKILLed

    def stop(self, timeout_s: float = 90.0) -> int | None:
        """SIGTERM (a clean stop), SIGKILL if it does not stop in time."""
        if self.process.poll() is None:
            started = time.monotonic()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.process.kill()
                self.process.wait(timeout=10)
            self.stop_s = time.monotonic() - started
        return self.process.returncode


def _spawn(
    name: str, args: list[str], env: dict[str, str], workdir: Path, port: int
) -> ServerProcess:
    log = workdir / f"{name}-{port}.log"
    process = subprocess.Popen(
        args,
        env=env,
        cwd=workdir,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    return ServerProcess(name, process, port, log)


def quorum_env(checkout: Checkout, database_url: str, api_url: str, **extra: str) -> dict[str, str]:
    env = checkout.env()
    env.update(
        {
            "DATABASE_URL": database_url,
            "SLACK_API_URL": api_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "QUORUM_SCHEDULER_ENABLED": "false",
            # A key of its own, as in production (the published default is refused).
            "QUORUM_AUDIT_KEY": AUDIT_KEY,
        }
    )
    env.update(extra)
    return env


def start_quorum(
    checkout: Checkout,
    database_url: str,
    api_url: str,
    workdir: Path,
    *,
    workers: int = 1,
    **extra: str,
) -> ServerProcess:
    """`quorum serve`; with `workers` > 1, its web processes under one supervisor, which
    runs the background loops once (PostgreSQL only)."""
    port = free_port()
    args = [PYTHON, "-m", "bot.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        args += ["--workers", str(workers)]
    server = _spawn(
        "quorum", args, quorum_env(checkout, database_url, api_url, **extra), workdir, port
    )
    server.wait_healthy()
    return server


def start_baseline(checkout: Checkout, api_url: str, workdir: Path) -> ServerProcess:
    port = free_port()
    env = checkout.env()
    env.update(
        {
            "SLACK_API_URL": api_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        }
    )
    args = [PYTHON, str(BENCH_DIR / "baseline_app.py"), "--port", str(port)]
    server = _spawn("baseline", args, env, workdir, port)
    server.wait_healthy()
    return server


_BATCH = """
import sys, json
from bot.cli.main import app
for args in json.loads(sys.argv[1]):
    app(args, standalone_mode=False, prog_name="quorum")
"""


def quorum_cli_batch(
    checkout: Checkout, env: dict[str, str], workdir: Path, commands: list[list[str]]
) -> str:
    """Several `quorum` commands (the checkout's typer app, exactly as the CLI runs them)
    in one interpreter: one start-up instead of one per command."""
    return _run([PYTHON, "-c", _BATCH, json.dumps(commands)], env, workdir, str(commands))


def quorum_cli(checkout: Checkout, env: dict[str, str], workdir: Path, *args: str) -> str:
    return _run([PYTHON, "-m", "bot.cli.main", *args], env, workdir, " ".join(args))


def _run(argv: list[str], env: dict[str, str], workdir: Path, what: str) -> str:
    done = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"quorum {what} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


# ---- scratch databases ----------------------------------------------------------------------


@dataclass
class ScratchDb:
    backend: str  # "sqlite" | "postgres"
    url: str  # for the server (SQLAlchemy URL)

    def engine(self):  # type: ignore[no-untyped-def]
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        return create_engine(self.url, poolclass=NullPool)


@contextmanager
def scratch_db(backend: str, workdir: Path, pg_admin_url: str) -> Iterator[ScratchDb]:
    """A fresh database: a SQLite file in ``workdir``, or a PostgreSQL database
    ``quorum_bench_<random>`` created on the admin connection's server and dropped after."""
    if backend == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        try:
            yield ScratchDb("sqlite", f"sqlite:///{path}")
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    name = f"quorum_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = pg_admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield ScratchDb("postgres", f"{base}/{name}")
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version(pg_admin_url: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(pg_admin_url, connect_timeout=3) as connection:
            row = connection.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else None
    except Exception as exc:  # reported, not fatal: the SQLite half still runs
        return f"unreachable ({str(exc).splitlines()[0]})"
