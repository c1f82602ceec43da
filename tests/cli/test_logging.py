"""Logging of the long-running commands: QUORUM_LOG_LEVEL is honoured, and no token,
key or request body reaches the log."""

from __future__ import annotations

import logging
import signal

import pytest

from bot.cli.logs import configure_logging
from bot.runtime.settings import Settings
from tests.factories import serve, stop_started_processes, wait_for

BOT_TOKEN = "xoxb-1234567890-0987654321-LeakedBotToken"
APP_TOKEN = "xapp-1-A0QUORUM-1234-LeakedAppToken"
USER_TOKEN = "xoxp-2222-3333-LeakedUserToken"
AUDIT_KEY = "audit-key-that-must-stay-secret"
SIGNING_SECRET = "signing-secret-that-must-stay-secret"


def settings(monkeypatch, **env: str) -> Settings:  # type: ignore[no-untyped-def]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_quorum_log_level_is_honoured(monkeypatch, capsys, restore_logging):
    configure_logging(settings(monkeypatch, QUORUM_LOG_LEVEL="warning"))
    worker = logging.getLogger("bot.delivery.worker")
    worker.info("an info line")
    worker.warning("a warning line")
    err = capsys.readouterr().err
    assert "a warning line" in err and "an info line" not in err
    monkeypatch.delenv("QUORUM_LOG_LEVEL")
    configure_logging(settings(monkeypatch))  # serve's and worker's default: INFO
    worker.info("an info line")
    assert "an info line" in capsys.readouterr().err
    configure_logging(settings(monkeypatch), default="WARNING")  # the demo's default
    worker.info("an info line")
    assert "an info line" not in capsys.readouterr().err
    assert len([h for h in logging.getLogger().handlers if getattr(h, "quorum", False)]) == 1


def test_tokens_and_configured_keys_are_redacted_from_every_record(
    monkeypatch, capsys, restore_logging
):
    configure_logging(
        settings(
            monkeypatch,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            QUORUM_AUDIT_KEY=AUDIT_KEY,
            QUORUM_LOG_LEVEL="DEBUG",
        )
    )
    # What a serving process logs: its own modules, Bolt, and an exception's text.
    logging.getLogger("bot.runtime.server").warning(
        "refused a request signed with %s from a client holding %s", SIGNING_SECRET, BOT_TOKEN
    )
    logging.getLogger("slack_bolt.App").error(f"Failed to retrieve WSS URL with {APP_TOKEN}")
    try:
        raise RuntimeError(f"auth.test failed for {USER_TOKEN} (key {AUDIT_KEY})")
    except RuntimeError:
        logging.getLogger("bot.delivery.worker").exception("delivery batch failed")
    logged = capsys.readouterr().err
    assert "refused a request signed with [redacted]" in logged
    assert "xoxb-[redacted]" in logged and "xapp-[redacted]" in logged
    assert "xoxp-[redacted]" in logged and "RuntimeError: auth.test failed" in logged
    for secret in (BOT_TOKEN, APP_TOKEN, USER_TOKEN, AUDIT_KEY, SIGNING_SECRET):
        assert secret not in logged
        assert secret[-12:] not in logged  # nor any tail of it


def test_library_debug_logs_that_carry_bodies_stay_off_at_debug(
    monkeypatch, capsys, restore_logging
):
    configure_logging(settings(monkeypatch, QUORUM_LOG_LEVEL="DEBUG"))
    logging.getLogger("bot.workflow").debug("our own debug line")
    # slack_sdk logs each request's JSON body at DEBUG: a reviewer's rationale, a sample.
    logging.getLogger("slack_sdk.web.base_client").debug('json_body: {"text": "patient X"}')
    logged = capsys.readouterr().err
    assert "our own debug line" in logged and "patient X" not in logged


@pytest.mark.parametrize("level, shows_info", [("WARNING", False), ("INFO", True)])
def test_quorum_serve_logs_at_the_level_asked(tmp_path, sqlite_url, emulator, level, shows_info):
    process = serve(
        sqlite_url,
        emulator,
        tmp_path,
        QUORUM_LOG_LEVEL=level,
        QUORUM_AUDIT_KEY=AUDIT_KEY,
        SLACK_BOT_TOKEN=emulator.bot_token,
    )
    try:
        log = wait_for(
            lambda: next(
                (p for p in tmp_path.glob("serve-*.log") if "listening" in p.read_text()), None
            ),
            what="quorum serve to listen",
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        stop_started_processes()
    text = log.read_text()
    assert ("INFO bot.runtime.app: stopped cleanly" in text) is shows_info, text
    assert AUDIT_KEY not in text and emulator.bot_token not in text


def test_api_tokens_and_webhook_secrets_are_redacted_by_shape(monkeypatch, capsys, restore_logging):
    configure_logging(settings(monkeypatch, QUORUM_LOG_LEVEL="INFO"))
    token, secret = "qrm_" + "A1b2-C3d4_" * 4, "whsec_" + "Zz9-yY8_" * 4
    logging.getLogger("bot.api.auth").warning("a client sent %s", token)
    logging.getLogger("bot.webhooks.sender").warning(f"signing with {secret} failed")
    logged = capsys.readouterr().err
    assert "qrm_[redacted]" in logged and "whsec_[redacted]" in logged
    assert token[4:] not in logged and secret[6:] not in logged


def test_presigned_urls_and_url_passwords_are_redacted(monkeypatch, capsys, restore_logging):
    configure_logging(settings(monkeypatch, QUORUM_LOG_LEVEL="INFO"))
    presigned = "https://bucket.s3.amazonaws.com/scans/a.png?X-Amz-Signature=abc123secret&e=1"
    logging.getLogger("httpx").info('HTTP Request: GET %s "HTTP/1.1 200 OK"', presigned)
    logging.getLogger("bot.media").warning("fetching https://ann:hunter22@example.org/x.png")
    logged = capsys.readouterr().err
    assert "https://bucket.s3.amazonaws.com/scans/a.png?[redacted]" in logged
    assert "abc123secret" not in logged and "hunter22" not in logged
    assert "https://[redacted]@example.org/x.png" in logged
