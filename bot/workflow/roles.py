"""Who may do what in a project, checked on the server for every action whatever sent
it (a button, a modal, a slash command, the API): one place, so a new action cannot
forget a check.

- reviewers answer their own assignments (the assignment names them: bot/workflow/review);
- a senior reviewer accepts or fixes the reviews given to them (a review stage);
- leads resolve escalations and see the project's escalations, flags and status;
- owners see what leads see, and resolve nothing;
- auditors read everything (status, the audit check, full conversations, provenance)
  and change nothing: a project file cannot make an auditor a reviewer, lead or owner.
"""

from __future__ import annotations

from bot.config.project import ProjectConfig


def may_resolve(config: ProjectConfig, user_id: str) -> bool:
    """Decide an escalated item (Accept, Decide…)."""
    return user_id in config.leads


def oversees(config: ProjectConfig, user_id: str) -> bool:
    """Sees the project's escalations, flags and status, and reads any of its items."""
    return user_id in config.leads or user_id in config.owners or user_id in config.auditors


def may_decide(config: ProjectConfig, stage: str, assignee: str | None, user_id: str) -> bool:
    """Settle an escalation of `stage`: the leads' sign-off, or the review its senior
    reviewer (`assignee`) was given."""
    if stage == "review":
        return assignee is not None and user_id == assignee
    return may_resolve(config, user_id)
