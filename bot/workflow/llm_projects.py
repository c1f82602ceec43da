"""Which projects use LLM assist, and the client each one talks to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.llm import make_openai_client
from bot.runtime.settings import Settings
from bot.workflow.project_versions import current_configs

ClientFactory = Callable[[Settings, ProjectConfig], Any]


def llm_projects(session: Session) -> dict[int, ProjectConfig]:
    """project id -> current config, for projects with `llm.enabled`."""
    return {
        project.id: config
        for project, config in current_configs(session)
        if config.llm.enabled and project.id is not None
    }


def openai_client_for(settings: Settings, config: ProjectConfig) -> Any:
    """The real openai client, pointed at OPENAI_BASE_URL with OPENAI_API_KEY."""
    return make_openai_client(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        timeout_s=config.llm.timeout_s,
    )


def enable_llm_assist(
    config: ProjectConfig, *, summarize_escalations: bool = True
) -> ProjectConfig:
    """The config with LLM assist switched on (the demo's `--llm-stub` projects)."""
    llm = config.llm.model_copy(
        update={"enabled": True, "summarize_escalations": summarize_escalations}
    )
    return config.model_copy(update={"llm": llm})
