"""The workflow: what happens to an item between import and its final label, by use case.

intake/      routing (who needs a human), pre-labels, assigning reviewers, dispatch
review/      a reviewer's answers, notes and skips; their DMs, queue, App Home and pauses;
             `release.release_assignment`, the one rule for an assignment leaving its
             reviewer
decision/    deciding an item (sign-off rules), writing its label, escalations to leads
             and their AI summaries
llm_assist   the background thread running pre-labels and escalation summaries

Shared by all of them: project_versions (projects and their config versions),
transaction (one retried transaction per step), llm_projects (which projects use LLM
assist), deliveries (Slack events seen once), feedback (calibrating routing against
human labels). What differs per task kind is asked of bot/kinds/, never branched on here.

Dependencies point one way: review -> intake -> decision (a released assignment is
topped up by intake's assignment; intake writes auto-accepted labels through decision),
and llm_assist -> intake, decision. decision knows nothing of reviewers' messages.
tests/test_architecture.py checks that there are no import cycles, function-local
imports included, and that nothing here imports a handler.
"""
