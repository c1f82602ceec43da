"""Runtime settings from the environment and `.env` (DESIGN.md's public contract)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        default=SecretStr("quorum-local-audit-key"),
        description="HMAC key that signs audit checkpoints; set your own in production",
    )
    quorum_export_salt: SecretStr = Field(default=SecretStr("quorum-local-export-salt"))
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
    # TEST-ONLY: the process SIGKILLs itself right after its N-th Slack send, before
    # recording it, so tests can prove a restart never sends twice. Never set in production.
    quorum_fault_kill_after_send: int = 0
    quorum_seed: int | None = None
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
    """Read afresh each time: commands are short-lived and tests change the environment."""
    return Settings()
