"""What can go wrong for a person running `quorum`, said in a line or two: the errors of
the libraries underneath (the database driver, Slack's Web API, the socket layer)
turned into UserErrors that name the problem and the fix. bot/cli/main.py prints them."""

from __future__ import annotations

import errno
import re
import socket
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bot.runtime.errors import UserError

BACKENDS = "PostgreSQL (postgresql+psycopg://user@host:5432/db) or SQLite (sqlite:///quorum.db)"


def layer_error(exc: BaseException) -> UserError | None:
    """The errors the workflow, intake and audit layers raise for a person's mistake (an
    unknown project, a bad file), as UserErrors; None for anything else (a bug)."""
    from bot.audit.provenance import AmbiguousItemError, UnknownItemError
    from bot.config.project import ProjectConfigError
    from bot.intake.importer import ImportRejected
    from bot.workflow.project_versions import UnknownProjectError

    if isinstance(exc, UserError):
        return exc
    known = (UnknownProjectError, UnknownItemError, AmbiguousItemError)
    if isinstance(exc, (*known, ImportRejected, ProjectConfigError)):
        return UserError(str(exc))
    return None


# -- the database -------------------------------------------------------------------------


def shown(url: str) -> str:
    """The URL as it may be printed: never its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return repr(url)


def check_database_url(url: str) -> URL:
    """The parsed URL of a backend Quorum runs on, or a UserError saying what to use."""
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UserError(
            f"DATABASE_URL {shown(url)} is not a database URL.", f"Use {BACKENDS}."
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise UserError(
            f"DATABASE_URL {shown(url)} is a {backend} database; Quorum runs on PostgreSQL "
            "and SQLite only.",
            f"Use {BACKENDS}.",
        )
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).expanduser().parent
        if not folder.is_dir():
            raise UserError(
                f"DATABASE_URL {shown(url)}: the folder {folder} of the SQLite file does not "
                "exist.",
                f"Create it (mkdir -p {folder}) or point DATABASE_URL at an existing folder.",
            )
    return parsed


def database_error(url: str, exc: BaseException) -> UserError | None:
    """A failure to open (connect to, migrate) the database, said for a person; None when
    `exc` is not such a failure."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError

    where = shown(url)
    if isinstance(exc, NoSuchModuleError | ModuleNotFoundError):
        return UserError(
            f"DATABASE_URL {where} needs a database driver that is not installed "
            f"({_first_line(exc)}).",
            f"Use {BACKENDS}: their drivers come with Quorum.",
        )
    if isinstance(exc, CommandError) and "Can't locate revision" in str(exc):
        return UserError(
            f"The database at {where} was migrated by a newer Quorum ({_first_line(exc)}).",
            "Upgrade Quorum to that version, or point DATABASE_URL at this version's database.",
        )
    if not isinstance(exc, DBAPIError):
        return None
    parsed = make_url(url)
    reason = _driver_reason(exc)
    if parsed.get_backend_name() == "sqlite":
        return UserError(
            f"Cannot open the SQLite database {parsed.database} ({reason}).",
            "Check that the file is a Quorum database you may write to, or point "
            "DATABASE_URL at another file.",
        )
    server = f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}"
    if found := re.search(r'database "([^"]+)" does not exist', reason):
        return UserError(
            f"{server} has no database {found[1]!r}.",
            f"Create it (createdb -h {parsed.host or 'localhost'} -p {parsed.port or 5432} "
            f"{found[1]}) or set DATABASE_URL to an existing database.",
        )
    if found := re.search(r'role "([^"]+)" does not exist', reason):
        return UserError(
            f"{server} has no user {found[1]!r}.",
            "Put an existing user in DATABASE_URL (postgresql+psycopg://USER@host/db) or "
            f"create this one (createuser {found[1]}).",
        )
    if "password authentication failed" in reason or "no password supplied" in reason:
        return UserError(
            f"{server} refused the user and password in DATABASE_URL ({reason}).",
            "Check both (postgresql+psycopg://user:password@host/db).",
        )
    unreachable = ("Connection refused", "could not translate host name", "timeout expired")
    if any(text in reason for text in (*unreachable, "No route to host", "not known")):
        return UserError(
            f"Cannot reach {server} ({reason}).",
            "Start PostgreSQL there, or fix the host and port in DATABASE_URL.",
        )
    return UserError(
        f"Cannot open the database at {where} ({reason}).", "Check DATABASE_URL and the server."
    )


def _driver_reason(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's wrapping: psycopg says
    'connection failed: connection to server at "h", port 5432 failed: FATAL:  <reason>'."""
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    # The first attempt's own reason (a host tried over IPv4 and IPv6 lists one per line).
    line = next((line for line in lines if " failed: " in line), lines[0] if lines else "")
    text = line.rsplit(" failed: ", 1)[-1]
    return re.sub(r"^(FATAL|ERROR):\s*", "", text).strip() or type(original).__name__


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# -- Slack --------------------------------------------------------------------------------

_TOKEN_FIXES = {
    "SLACK_BOT_TOKEN": "Copy the Bot User OAuth Token (xoxb-…) from your app's OAuth & "
    "Permissions page (reinstall the app if it was revoked) and set SLACK_BOT_TOKEN.",
    "SLACK_APP_TOKEN": "Enable Socket Mode and create an app-level token with the "
    "connections:write scope (Basic Information → App-Level Tokens, xapp-…), then set "
    "SLACK_APP_TOKEN; unset it to serve HTTP instead.",
}


@contextmanager
def slack_call(method: str, token_name: str, api_url: str) -> Iterator[None]:
    """Slack calls made at start-up (`auth.test` with the bot token, `apps.connections.open`
    with the app token): a refusal or an unreachable Slack becomes a UserError."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    try:
        yield
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        raise _refused(method, token_name, str(code or exc.response.status_code)) from exc
    except BoltError as exc:  # Bolt's App() runs auth.test itself and wraps the refusal
        found = re.search(r"'error': '([^']+)'", str(exc))
        if found is None:
            raise
        raise _refused(method, token_name, found[1]) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UserError(
            f"Cannot reach Slack at {api_url} ({method}: {reason}).",
            "Check the network connection and any proxy (HTTPS_PROXY), or SLACK_API_URL.",
        ) from exc


def _refused(method: str, token_name: str, code: str) -> UserError:
    return UserError(f"Slack refused {token_name} ({method}: {code}).", _TOKEN_FIXES[token_name])


# -- the HTTP port ------------------------------------------------------------------------


@contextmanager
def listening_on(host: str, port: int) -> Iterator[None]:
    """Binding the port `quorum serve` listens on."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(
                f"Port {port} on {host} is already in use by another program.",
                "Stop it, or choose another port with `quorum serve --port N`.",
            ) from exc
        if exc.errno == errno.EACCES:
            raise UserError(
                f"Port {port} on {host} needs privileges this user does not have.",
                "Choose a port above 1023 with --port (and put a proxy in front if needed).",
            ) from exc
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(
            exc, socket.gaierror
        ):
            raise UserError(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
                "Give --host an address of this machine (0.0.0.0 for all, 127.0.0.1 for this "
                "host only).",
            ) from exc
        raise
