"""Who reviews a project and what they can review: reviewers with languages, skills and a
cap on open work, what an item requires of them, and the project rule that reads an
item's requirements from its metadata.

A reviewer may be listed as a plain Slack id (no attributes: they take items that
require nothing) or as an entry `{id, languages, skills, max_open}`. Languages are
language tags (`de`, `pt-BR`); a requirement of `de` is met by `de` and by any regional
`de-…`, one of `pt-BR` only by `pt-BR`. Skills are names the project chooses
(`cardiology`), matched exactly. Both are compared case-insensitively.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

SLACK_USER_ID = r"^[UW][A-Z0-9]{2,}$"
LANGUAGE_TAG = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$"
SKILL_NAME = r"^[A-Za-z0-9][A-Za-z0-9 _./+-]{0,62}$"
MAX_TAGS = 50  # languages or skills per person or item
# What a tag that does not match its pattern should look like, for error messages.
TAG_HINTS = {
    LANGUAGE_TAG: "must be a language tag such as de or pt-BR",
    SKILL_NAME: "must be a skill name: letters, digits, spaces or _ . / + -, at most 63",
}


def _lower(value: str) -> str:
    return value.lower()


Language = Annotated[str, Field(pattern=LANGUAGE_TAG), AfterValidator(_lower)]
Skill = Annotated[str, Field(pattern=SKILL_NAME), AfterValidator(_lower)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Strict):
    """A reviewer with what they can review; a plain id in the file is one with none."""

    id: str = Field(pattern=SLACK_USER_ID)
    languages: list[Language] = Field(default_factory=list, max_length=MAX_TAGS)
    skills: list[Skill] = Field(default_factory=list, max_length=MAX_TAGS)
    # Open (pending) assignments of this project at once; None: no cap.
    max_open: int | None = Field(default=None, ge=1, le=10_000)


class Requirements(_Strict):
    """What everyone who takes part in an item must meet: all of its languages, all of
    its skills. As imported (`requires` on an item) or read by a project's `route`."""

    languages: list[Language] = Field(default_factory=list, max_length=MAX_TAGS)
    skills: list[Skill] = Field(default_factory=list, max_length=MAX_TAGS)

    @property
    def empty(self) -> bool:
        return not self.languages and not self.skills

    def met_by(self, person: Person) -> bool:
        return all(_speaks(person.languages, tag) for tag in self.languages) and set(
            self.skills
        ) <= set(person.skills)

    def describe(self) -> str:
        """`de + cardiology`: for people, in reasons and notes."""
        return " + ".join([*self.languages, *self.skills])

    def merged(self, other: Requirements) -> Requirements:
        return Requirements(
            languages=list(dict.fromkeys([*self.languages, *other.languages])),
            skills=list(dict.fromkeys([*self.skills, *other.skills])),
        )


NO_REQUIREMENTS = Requirements()


def _speaks(spoken: Iterable[str], tag: str) -> bool:
    return any(have == tag or have.startswith(f"{tag}-") for have in spoken)


METADATA_PATH = r"^metadata(\.[A-Za-z0-9_-]+)+$"


class RouteRule(_Strict):
    """Requirements read from an item's metadata: `route: {languages: metadata.lang}`.
    A value at the path may be one tag or a list of tags; a missing one requires
    nothing."""

    languages: str | None = Field(default=None, pattern=METADATA_PATH)
    skills: str | None = Field(default=None, pattern=METADATA_PATH)

    def read(self, meta: Mapping[str, Any] | None) -> Requirements:
        """The requirements `meta` names; ValueError naming the path when a value there
        is not a tag (the item cannot be routed and fails with that reason)."""
        found: dict[str, list[str]] = {}
        for field, path in (("languages", self.languages), ("skills", self.skills)):
            if path is None:
                continue
            value = _at(meta, path.split(".")[1:])
            tags = [value] if isinstance(value, str) else value
            if value is None:
                continue
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ValueError(f"route.{field}: {path} is not a string or a list of strings")
            try:
                Requirements.model_validate({field: tags})
            except ValidationError:
                what = "language tag" if field == "languages" else "skill name"
                raise ValueError(
                    f"route.{field}: {path} holds {str(tags)[:80]}, not a {what} or a list of them"
                ) from None
            found[field] = tags
        return Requirements.model_validate(found)


def _at(meta: Mapping[str, Any] | None, keys: list[str]) -> Any:
    value: Any = meta
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def person(entry: str | Person | Mapping[str, Any]) -> Person:
    if isinstance(entry, Person):
        return entry
    return Person(id=entry) if isinstance(entry, str) else Person.model_validate(entry)


def listed_people(entries: Iterable[str | Person | Mapping[str, Any]]) -> dict[str, Person]:
    """Reviewer id -> Person, in the file's order (entries as in a parsed config, or as
    stored in a project version's JSON)."""
    people = (person(entry) for entry in entries)
    return {p.id: p for p in people}
