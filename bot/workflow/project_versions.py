"""Creating projects and versioning their configuration."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from storage import queries
from storage.models import Item, Project, ProjectVersion, utcnow


class UnknownProjectError(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        hint = f" Known projects: {', '.join(known)}." if known else " No project exists yet."
        super().__init__(
            f"no project named {name!r}.{hint} Create one with `quorum project apply FILE.yml`."
        )


@dataclass(frozen=True)
class ApplyResult:
    project_id: int
    version: int
    created: bool
    changed: bool
    removed_reviewers: tuple[str, ...] = ()  # listed in the previous version, not in this one


def apply_project(session: Session, config: ProjectConfig, *, actor: str = "cli") -> ApplyResult:
    """Create the project or store its config as a new version when it changed."""
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
            raise ValueError(
                f"project {config.name!r} is a {project.kind} project; its kind cannot change "
                f"to {config.kind} (create a new project instead)"
            )
        current = queries.project_version(session, project.id, project.current_version)
        if current is not None and current.config_hash == digest:
            return ApplyResult(project.id, project.current_version, created=False, changed=False)
        created, version = False, project.current_version + 1
        if current is not None:
            listed = set(config.reviewers)
            removed = tuple(r for r in current.config.get("reviewers") or [] if r not in listed)
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
    return ApplyResult(
        project.id, version, created=created, changed=True, removed_reviewers=removed
    )


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
