"""Creating projects and versioning their configuration."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.people import listed_people
from bot.config.project import ProjectConfig
from storage import queries
from storage.models import Item, ItemStatus, Project, ProjectVersion, utcnow

log = logging.getLogger(__name__)


class UnknownProjectError(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        hint = f" Known projects: {', '.join(known)}." if known else " No project exists yet."
        super().__init__(
            f"no project named {name!r}.{hint} Create one with `quorum project apply FILE.yml`."
        )


class ProjectRefused(ValueError):
    """`apply_project` refuses the file (the person must change it); nothing is stored."""


class ProjectPreflightError(ProjectRefused):
    """A project file whose messages Slack would refuse; one line per problem."""

    def __init__(self, name: str, problems: list[str]) -> None:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"Slack would refuse messages of project {name!r}; change these fields:\n{lines}"
        )
        self.problems = problems


@dataclass(frozen=True)
class ApplyResult:
    project_id: int
    version: int
    created: bool
    changed: bool
    removed_reviewers: tuple[str, ...] = ()  # listed in the previous version, not in this one
    requeued: int = 0  # failed items put back in the queue by this version


def apply_project(session: Session, config: ProjectConfig, *, actor: str = "cli") -> ApplyResult:
    """Create the project or store its config as a new version when it changed. A
    config whose messages Slack would refuse (intake/preflight.py) is not applied
    (ProjectPreflightError); a new version puts the project's failed items back in the
    queue, since the change may be what they needed."""
    from bot.workflow.intake.preflight import preflight

    project = queries.get_project(session, config.name)
    digest = config.version_hash
    removed: tuple[str, ...] = ()
    if project is None:
        project = Project(name=config.name, kind=config.kind)
        session.add(project)
        session.flush()
        created, version = True, 1
    else:
        assert project.id is not None
        if project.kind != config.kind:
            raise ProjectRefused(
                f"project {config.name!r} is a {project.kind} project; its kind cannot change "
                f"to {config.kind} (create a new project instead)"
            )
        current = queries.project_version(session, project.id, project.current_version)
        if current is not None and current.config_hash == digest:
            return ApplyResult(project.id, project.current_version, created=False, changed=False)
        created, version = False, project.current_version + 1
        if current is not None:
            listed = set(config.people)
            if config.reviewer_group:  # still in the group: still a reviewer
                group = queries.reviewer_group(session, config.reviewer_group)
                listed |= set(group.members if group else [])
            before = listed_people(current.config.get("reviewers") or [])
            removed = tuple(r for r in before if r not in listed)
    problems = preflight(config)
    if problems:
        raise ProjectPreflightError(config.name, problems)
    assert project.id is not None
    session.add(
        ProjectVersion(
            project_id=project.id,
            version=version,
            config=config.model_dump(mode="json"),
            config_hash=digest,
            created_by=actor,
        )
    )
    project.current_version = version
    project.updated_at = utcnow()
    session.add(project)
    record_event(
        session,
        "project_applied",
        actor=actor,
        project_id=project.id,
        data={"version": version, "config_hash": digest, "created": created},
    )
    requeued = 0 if created else _requeue_failed(session, project.id, version, actor=actor)
    return ApplyResult(
        project.id,
        version,
        created=created,
        changed=True,
        removed_reviewers=removed,
        requeued=requeued,
    )


def _requeue_failed(session: Session, project_id: int, version: int, *, actor: str) -> int:
    """Items dispatch gave up on go back to the queue under the new version (and fail
    again, with their reason, if it did not help)."""
    item_ids = queries.failed_item_ids(session, project_id)
    for item_id in item_ids:
        item = queries.lock_item(session, item_id)
        if item is None or item.status != ItemStatus.FAILED:
            continue
        record_event(
            session,
            "requeued",
            actor=actor,
            project_id=project_id,
            item_id=item_id,
            data={"version": version, "failure": item.failure},
        )
        item.status, item.failure, item.updated_at = ItemStatus.QUEUED, None, utcnow()
        session.add(item)
    return len(item_ids)


class ConfigCache:
    """Validated project configs by (database, project, version), least recently used
    dropped beyond `size`. A version row never changes once written, so its config is
    read and validated once per process; applying a new version bumps the project's
    `current_version`, which is a new key. The project's `updated_at` (set when a version
    is applied) is part of the key too: a version read inside an apply that then rolls
    back, or a database emptied and filled again under the same URL (tests do), never
    hands out another config under the same number. ProjectConfig is frozen, so threads
    share the cached objects."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._configs: OrderedDict[tuple[Any, ...], ProjectConfig] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> ProjectConfig | None:
        with self._lock:
            config = self._configs.get(key)
            if config is not None:
                self._configs.move_to_end(key)
            return config

    def put(self, key: tuple[Any, ...], config: ProjectConfig) -> None:
        with self._lock:
            self._configs[key] = config
            self._configs.move_to_end(key)
            while len(self._configs) > self.size:
                self._configs.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._configs.clear()

    def __len__(self) -> int:
        return len(self._configs)


CONFIGS = ConfigCache()


def project_config(session: Session, project: Project, version: int | None = None) -> ProjectConfig:
    """The project's config at `version` (its current one by default)."""
    assert project.id is not None
    number = version or project.current_version
    key = (str(session.get_bind().engine.url), project.id, project.updated_at, number)
    config = CONFIGS.get(key)
    if config is not None:
        return config
    row = queries.project_version(session, project.id, number)
    if row is None:
        raise LookupError(f"project {project.name!r} has no config version {version}")
    config = ProjectConfig.model_validate(row.config)
    CONFIGS.put(key, config)
    return config


def current_configs(session: Session) -> Iterator[tuple[Project, ProjectConfig]]:
    """Every project with its current config. One whose stored config this version of
    Quorum no longer accepts (an upgrade with stricter checks) is left out, said once in
    the log, so it does not stop what reads every project (App Home, /quorum, reviewer
    groups, LLM assist) for all the others."""
    for project in queries.list_projects(session):
        try:
            config = project_config(session, project)
        except ValidationError as exc:
            refused = (str(session.get_bind().engine.url), project.id, project.current_version)
            if refused not in _REFUSED:
                _REFUSED.add(refused)
                log.error(
                    "project %r: its stored config (version %s) is no longer valid and is "
                    "skipped until `quorum project apply` stores a fixed one: %s",
                    project.name,
                    project.current_version,
                    exc.errors()[0].get("msg") if exc.errors() else exc,
                )
            continue
        yield project, config


_REFUSED: set[tuple[str, int | None, int]] = set()  # (database, project, version) logged


def require_project(session: Session, name: str) -> Project:
    project = queries.get_project(session, name)
    if project is None:
        raise UnknownProjectError(name, [p.name for p in queries.list_projects(session)])
    return project


def config_for_item(session: Session, item: Item) -> tuple[Project, ProjectConfig]:
    """The item's project and the project's current config."""
    project = session.get(Project, item.project_id)
    assert project is not None
    return project, project_config(session, project)
