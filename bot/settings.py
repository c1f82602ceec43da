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
    quorum_seed: int | None = None
    # Tests set this so a request returns only after its listener finished (deterministic);
    # in production Bolt acks first and works in its thread pool.
    quorum_process_before_response: bool = False

    def missing_for_serve(self) -> list[str]:
        missing = []
        if not self.slack_bot_token:
            missing.append("SLACK_BOT_TOKEN")
        if not self.slack_signing_secret and not self.slack_app_token:
            missing.append("SLACK_SIGNING_SECRET")
        return missing


def get_settings() -> Settings:
    """Read afresh each time: commands are short-lived and tests change the environment."""
    return Settings()
