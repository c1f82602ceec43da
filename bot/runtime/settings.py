"""Runtime settings from the environment and `.env` (DESIGN.md's public contract)."""

from __future__ import annotations

import logging

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.media.store import default_location
from bot.runtime.errors import UserError

# Published in this file, so anyone can sign checkpoints or reverse pseudonyms with them:
# fine for the demo and tests (QUORUM_DEV=1), refused anywhere else (`require_own_secrets`).
DEFAULT_AUDIT_KEY = "quorum-local-audit-key"
DEFAULT_EXPORT_SALT = "quorum-local-export-salt"
_SECRET_RISKS = {
    "QUORUM_AUDIT_KEY": (
        DEFAULT_AUDIT_KEY,
        "anyone can forge the audit checkpoints it signs",
        "checkpoints verify only under the key that signed them",
    ),
    "QUORUM_EXPORT_SALT": (
        DEFAULT_EXPORT_SALT,
        "anyone can reverse the exports' pseudonyms by hashing your workspace's member ids",
        "the same salt gives the same pseudonyms across exports",
    ),
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///quorum.db"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None

    quorum_audit_key: SecretStr = Field(
        default=SecretStr(DEFAULT_AUDIT_KEY),
        description="HMAC key that signs audit checkpoints; set your own in production",
    )
    quorum_export_salt: SecretStr = Field(default=SecretStr(DEFAULT_EXPORT_SALT))
    # Development mode: the published default key and salt are accepted. `quorum demo`
    # and the test suite (tests/conftest.py) turn it on; nothing else should.
    quorum_dev: bool = False
    # serve, worker and demo; None: INFO for serve and worker, WARNING for the demo.
    quorum_log_level: str | None = None
    quorum_delivery_interval_s: float = 0.5
    # Delivery (bot/delivery, docs/delivery.md). A claimed outbox row is another process's
    # to take over after this lease; Slack calls time out well inside it.
    quorum_delivery_lease_s: float = Field(default=60.0, ge=2.0)
    quorum_delivery_threads: int = Field(default=2, ge=1, le=16)  # sender loops per process
    # Multiplies every pacing rate (2 = twice Slack's limits); 0 turns pacing off, for
    # offline simulations against the emulator. 429 Retry-After is honoured regardless.
    quorum_pacing_scale: float = Field(default=1.0, ge=0.0)
    quorum_scheduler_enabled: bool = True
    quorum_digest_hour_utc: int = Field(default=9, ge=0, le=23)
    # Webhooks (bot/webhooks, docs/webhooks.md). false: refuse URLs whose host resolves to
    # a loopback, private, link-local, multicast or reserved address, when added and on
    # each send (SSRF protection). A POST gives up after the timeout; a delivery is
    # retried until this many hours after its event, then marked failed.
    quorum_webhook_allow_private: bool = True
    quorum_webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)
    quorum_webhook_give_up_h: float = Field(default=25.0, gt=0)
    # TEST-ONLY: the process SIGKILLs itself right after its N-th Slack send, before
    # recording it, so tests can prove a restart never sends twice. Never set in production.
    quorum_fault_kill_after_send: int = 0
    quorum_seed: int | None = None
    # The largest item an import accepts: a JSONL line, a CSV record (docs/import.md).
    quorum_max_item_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024**3)
    # Tests set this so a request returns only after its listener finished (deterministic);
    # in production Bolt acks first and works in its thread pool.
    quorum_process_before_response: bool = False
    # The HTTP server (bot/runtime/server.py, docs/delivery.md "Serving HTTP"), per process.
    # A body over the limit is refused with 413 before it is read; a body not complete
    # within the timeout (a stalled or dripping client) gets 408 and its connection closed.
    quorum_http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    quorum_http_body_timeout_s: float = Field(default=10.0, gt=0)
    # Requests verified and handed to Bolt at once (the rest wait on the event loop,
    # holding no thread), and Bolt's listener threads; when every listener thread is busy
    # a listener runs in its request's thread, so an ack never queues behind other work.
    quorum_http_threads: int = Field(default=16, ge=1, le=256)
    quorum_listener_threads: int = Field(default=16, ge=1, le=256)
    quorum_http_backlog: int = Field(default=2048, ge=1)  # the listen() queue
    # Open connections and requests past which new requests get 503 (uvicorn's limit).
    quorum_http_limit_concurrency: int = Field(default=1000, ge=1)
    # The REST API under /api (bot/api, docs/api.md), per process. Its requests run in
    # threads of their own, at most this many at once, so API traffic never takes a
    # thread a Slack request needs.
    quorum_api_threads: int = Field(default=4, ge=1, le=64)
    quorum_api_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)  # then 413
    # Per token and process: a token bucket refilled at RATE requests/s, holding BURST.
    quorum_api_rate: float = Field(default=20.0, gt=0)
    quorum_api_burst: int = Field(default=100, ge=1)
    # Media of imported items (bot/intake/media.py, docs/media.md): where they are stored
    # by sha256 (a folder, or an fsspec URL such as s3://bucket/quorum-media); None: a
    # `media` folder beside the SQLite database, or in the working folder.
    quorum_media_store: str | None = None
    quorum_media_fetch_timeout_s: float = Field(default=20.0, gt=0, le=600)
    # Whether items pushed over the REST API may name media on loopback or private
    # addresses (SSRF protection; `quorum import` from a file may always).
    quorum_media_allow_private: bool = False

    @field_validator("database_url")
    @classmethod
    def _psycopg_for_postgres(cls, url: str) -> str:
        """`postgres://` (Heroku and others) and a bare `postgresql://` mean the psycopg 3
        driver Quorum ships; SQLAlchemy would look for psycopg2 or fail on the name."""
        for scheme in ("postgres://", "postgresql://"):
            if url.startswith(scheme):
                return "postgresql+psycopg://" + url[len(scheme) :]
        return url

    @field_validator("quorum_log_level")
    @classmethod
    def _known_level(cls, level: str | None) -> str | None:
        if level is None or not level.strip():
            return None
        if level.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"choose one of {', '.join(LOG_LEVELS)}")
        return level.strip().upper()

    def media_store_url(self) -> str:
        return self.quorum_media_store or default_location(self.database_url)

    def media_store_problem(self) -> str | None:
        """Why media cannot be imported with these settings: on a database server, the
        processes that import, serve and deliver may run anywhere, and a default folder
        in each one's working directory would not be the same store."""
        if self.quorum_media_store or self.database_url.startswith("sqlite"):
            return None
        return (
            "media need QUORUM_MEDIA_STORE set when the database is a server (a folder or "
            "an fsspec URL every Quorum process can reach: docs/media.md)"
        )

    def log_level(self, default: str = "INFO") -> int:
        return logging.getLevelNamesMapping()[self.quorum_log_level or default]

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log filter that keeps them out of logs."""
        secrets = [
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.openai_api_key,
            self.quorum_audit_key,
            self.quorum_export_salt,
        ]
        return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]

    def require_own_secrets(self, *names: str, command: str) -> None:
        """Refuse the published default of each named secret (QUORUM_AUDIT_KEY,
        QUORUM_EXPORT_SALT) unless development mode is on."""
        if self.quorum_dev:
            return
        for name in names:
            default, risk, keep = _SECRET_RISKS[name]
            value = getattr(self, name.lower()).get_secret_value()
            if value in (default, ""):
                raise UserError(
                    f"{name} is {'empty' if not value else 'the published default'}: "
                    f"{risk}, so `{command}` will not use it.",
                    f"Set your own and keep it ({keep}): export {name}=$(python -c "
                    "'import secrets; print(secrets.token_hex(32))'). For local "
                    "development only, QUORUM_DEV=1 accepts the default.",
                )

    def missing_for_serve(self) -> list[str]:
        missing = []
        if not self.slack_bot_token:
            missing.append("SLACK_BOT_TOKEN")
        if not self.slack_signing_secret and not self.slack_app_token:
            missing.append("SLACK_SIGNING_SECRET")
        return missing

    def missing_for_worker(self) -> list[str]:
        """The background loops call Slack (delivery), but never receive its requests."""
        return [] if self.slack_bot_token else ["SLACK_BOT_TOKEN"]


def get_settings() -> Settings:
    """Read afresh each time: commands are short-lived and tests change the environment.
    A value that does not parse is a UserError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [
            f"{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        ]
        raise UserError(
            f"Bad setting: {'; '.join(problems)}.",
            "Correct it in the environment or in .env (README: Settings).",
        ) from exc
