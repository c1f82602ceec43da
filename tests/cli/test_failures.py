"""Every foreseeable failure of a `quorum` command, tried as a careless user would: one
message in a line or two naming the problem and the fix, exit code 2, no traceback; and
`quorum --debug …` shows the traceback as well."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy.engine import make_url

from bot import EXAMPLES_DIR
from bot.sandbox.slack_emulator import SlackEmulator
from tests.factories import free_port

SIGNING_SECRET = "cli-test-signing-secret"


@dataclass
class Failure:
    args: list[str]
    says: list[str]  # what the message must name: the problem and the fix
    env: dict[str, str] = field(default_factory=dict)


def one_message(result, says: list[str]) -> None:  # type: ignore[no-untyped-def]
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "╭" not in result.output, result.output
    assert 1 <= len(lines) <= 2, result.output
    assert lines[0].startswith("error: "), result.output
    for text in says:
        assert text in result.output, f"{text!r} not in {result.output!r}"


def with_traceback(result, says: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    assert "Traceback (most recent call last)" in result.output, result.output
    for text in says:
        assert text in result.output


def check(quorum, monkeypatch, failure: Failure, prepare: Callable[[], None] = lambda: None):  # type: ignore[no-untyped-def]
    for name, value in failure.env.items():
        monkeypatch.setenv(name, value)
    prepare()
    one_message(quorum(*failure.args), failure.says)
    prepare()
    with_traceback(quorum("--debug", *failure.args), failure.says)


# -- DATABASE_URL -------------------------------------------------------------------------


def postgres_failures(postgres_url: str) -> dict[str, Failure]:
    url = make_url(postgres_url)
    closed_port = free_port()
    return {
        "missing database": Failure(
            ["status"],
            ["has no database 'quorum_no_such_db'", "createdb"],
            {"DATABASE_URL": url.set(database="quorum_no_such_db").render_as_string(False)},
        ),
        "wrong port": Failure(
            ["status"],
            [f"Cannot reach PostgreSQL at {url.host}:{closed_port}", "fix the host and port"],
            {"DATABASE_URL": url.set(port=closed_port).render_as_string(False)},
        ),
        "wrong user": Failure(
            ["status"],
            ["has no user 'quorum_no_such_role'", "DATABASE_URL"],
            {"DATABASE_URL": url.set(username="quorum_no_such_role").render_as_string(False)},
        ),
    }


@pytest.mark.parametrize("case", ["missing database", "wrong port", "wrong user"])
def test_a_postgres_url_that_does_not_connect_says_why(quorum, monkeypatch, postgres_url, case):
    check(quorum, monkeypatch, postgres_failures(postgres_url)[case])


@pytest.mark.parametrize(
    "url, says",
    [
        ("sqlite:///{tmp}/no/such/folder/quorum.db", ["the folder", "does not exist", "mkdir -p"]),
        ("mysql://quorum@127.0.0.1/quorum", ["is a mysql database", "PostgreSQL and SQLite"]),
        ("mysql+pymysql://quorum@127.0.0.1/quorum", ["is a mysql database"]),
        ("not a url", ["is not a database URL", "sqlite:///quorum.db"]),
        ("postgresql+psycopg2://127.0.0.1/test", ["driver that is not installed", "psycopg"]),
    ],
)
def test_a_database_url_quorum_cannot_use_says_what_to_use(quorum, monkeypatch, env, url, says):
    check(quorum, monkeypatch, Failure(["status"], says, {"DATABASE_URL": url.format(tmp=env)}))


def test_a_password_in_the_url_is_never_printed(quorum, monkeypatch, postgres_url):
    url = make_url(postgres_url).set(database="quorum_no_such_db", password="hunter2-secret")
    monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
    result = quorum("status")
    assert result.exit_code == 2 and "hunter2-secret" not in result.output


def test_a_postgres_scheme_url_is_accepted_as_postgresql(quorum, monkeypatch, postgres_url):
    # Heroku and others hand out postgres://; SQLAlchemy only knows postgresql.
    url = make_url(postgres_url).render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url.replace("postgresql+psycopg://", "postgres://"))
    result = quorum("status")
    assert result.exit_code == 0, result.output
    assert "Items by state" in result.output


def test_a_setting_that_does_not_parse_is_named(quorum, monkeypatch):
    failure = Failure(
        ["status"],
        ["QUORUM_HTTP_THREADS", "valid integer", "QUORUM_LOG_LEVEL", ".env"],
        {"QUORUM_HTTP_THREADS": "lots", "QUORUM_LOG_LEVEL": "loud"},
    )
    check(quorum, monkeypatch, failure)


# -- Slack and the port: `quorum serve` --------------------------------------------------


def slack_env(emulator: SlackEmulator, **changes: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": emulator.api_url,
        "QUORUM_SCHEDULER_ENABLED": "false",
        **changes,
    }


def serve_args() -> list[str]:
    return ["serve", "--host", "127.0.0.1", "--port", str(free_port())]


def test_serve_with_a_token_slack_refuses(quorum, monkeypatch, emulator):
    failure = Failure(
        serve_args(),
        ["Slack refused SLACK_BOT_TOKEN (auth.test: invalid_auth)", "OAuth & Permissions"],
        slack_env(emulator, SLACK_BOT_TOKEN="xoxb-not-this-workspace"),
    )
    check(quorum, monkeypatch, failure)


@pytest.mark.parametrize("background", ["--background", "--no-background"])
def test_serve_with_web_processes_checks_the_token_before_starting_them(
    quorum, monkeypatch, emulator, postgres_url, background
):
    failure = Failure(
        [*serve_args(), "--workers", "2", background],
        ["Slack refused SLACK_BOT_TOKEN (auth.test: invalid_auth)"],
        slack_env(emulator, SLACK_BOT_TOKEN="xoxb-not-this-workspace", DATABASE_URL=postgres_url),
    )
    check(quorum, monkeypatch, failure)


def test_serve_when_slack_cannot_be_reached(quorum, monkeypatch, emulator):
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    failure = Failure(
        serve_args(),
        [f"Cannot reach Slack at {nowhere} (auth.test", "network", "SLACK_API_URL"],
        slack_env(emulator, SLACK_API_URL=nowhere),
    )
    check(quorum, monkeypatch, failure)


def test_serve_in_socket_mode_with_an_app_token_slack_refuses(quorum, monkeypatch, emulator):
    failure = Failure(
        ["serve"],
        ["Slack refused SLACK_APP_TOKEN (apps.connections.open: invalid_auth)", "xapp-"],
        slack_env(emulator, SLACK_APP_TOKEN="xapp-1-not-a-real-token"),
    )
    # What Slack answers for an app-level token it does not know (HTTP 200, ok: false).
    check(
        quorum,
        monkeypatch,
        failure,
        lambda: emulator.fail_next("apps.connections.open", error="invalid_auth", status=200),
    )


def test_serve_on_a_port_in_use(quorum, monkeypatch, emulator):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        failure = Failure(
            ["serve", "--host", "127.0.0.1", "--port", str(port)],
            [f"Port {port} on 127.0.0.1 is already in use", "--port"],
            slack_env(emulator),
        )
        check(quorum, monkeypatch, failure)
    assert not emulator.calls_to("auth.test")  # refused before anything talked to Slack


# -- files, projects, formats -----------------------------------------------------------


@pytest.fixture
def project(quorum) -> str:  # type: ignore[no-untyped-def]
    assert quorum("project", "apply", str(EXAMPLES_DIR / "support-intent.yml")).exit_code == 0
    return "support-intent"


@pytest.mark.parametrize(
    "args, says",
    [
        (["project", "apply", "missing.yml"], ["missing.yml", "cannot read project file"]),
        (["import", "--project", "support-intent", "missing.jsonl"], ["does not exist"]),
        (["import", "--project", "support-intent", "."], ["is a folder", "JSONL, CSV or Parquet"]),
        (["import", "--project", "nope", str(EXAMPLES_DIR / "support-intent.jsonl")], ["nope"]),
        (["export", "--project", "nope"], ["no project named 'nope'", "quorum project apply"]),
        (["export", "-p", "support-intent", "-f", "xml"], ["unknown format 'xml'", "labels"]),
        (["export", "-p", "support-intent", "-f", "dpo"], ["label project", "--format labels"]),
        (["export", "-p", "support-intent", "-o", "no/such/dir/x.jsonl"], ["mkdir -p no/such"]),
        (["export", "-p", "support-intent", "-o", "."], ["is a folder", "name of a file"]),
        (["export", "-p", "support-intent", "--from", "May 1"], ["not a date", "YYYY-MM-DD"]),
        (["status", "--project", "nope"], ["no project named 'nope'"]),
        (["calibrate", "--project", "nope"], ["no project named 'nope'"]),
        (["audit", "verify", "--project", "nope"], ["no project named 'nope'"]),
        (["provenance", "no-such-item"], ["no item with id 'no-such-item'"]),
    ],
)
def test_a_missing_file_unknown_project_or_format_says_so(quorum, monkeypatch, project, args, says):
    check(quorum, monkeypatch, Failure(args, says))
