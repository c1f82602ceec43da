"""Who appears in an export: real Slack ids, or stable salted pseudonyms for sharing.

A pseudonym is "r_" + the first 12 hex characters of HMAC-SHA256(salt, user id): the
same reviewer gets the same pseudonym in every export made with the same salt (so
per-reviewer analysis still works), and without the salt it cannot be reversed by
hashing a list of known ids.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from pydantic import SecretStr

# Actors that are the system itself, not a person.
SYSTEM_ACTORS = frozenset({"quorum", "cli", "scheduler", "system", "import"})
# A Slack user id inside free text: a <@U…> mention, or a bare id with a digit in it.
MENTION = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>")
BARE_ID = re.compile(r"\b[UW](?=[A-Z0-9]*\d)[A-Z0-9]{7,}\b")


def pseudonym(user_id: str, salt: SecretStr | str) -> str:
    secret = salt.get_secret_value() if isinstance(salt, SecretStr) else salt
    digest = hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return f"r_{digest[:12]}"


class People:
    """Real ids: the default, for exports that stay inside the team."""

    pseudonymised = False

    def person(self, user_id: str | None) -> str | None:
        return user_id

    def text(self, value: str | None) -> str | None:
        return value


class Pseudonyms(People):
    """Every reviewer or lead id, in fields and in free text, replaced by its pseudonym."""

    pseudonymised = True

    def __init__(self, salt: SecretStr | str, known: Iterable[str] = ()) -> None:
        self._salt = salt
        self._cache: dict[str, str] = {}
        names = sorted(set(known), key=len, reverse=True)
        self._known = (
            re.compile(r"\b(?:" + "|".join(re.escape(n) for n in names) + r")\b") if names else None
        )

    def person(self, user_id: str | None) -> str | None:
        if user_id is None or user_id in SYSTEM_ACTORS:
            return user_id
        found = self._cache.get(user_id)
        if found is None:
            found = self._cache[user_id] = pseudonym(user_id, self._salt)
        return found

    def text(self, value: str | None) -> str | None:
        if not value:
            return value
        value = MENTION.sub(lambda m: f"<@{self.person(m.group(1))}>", value)
        if self._known is not None:
            value = self._known.sub(lambda m: self.person(m.group(0)) or "", value)
        return BARE_ID.sub(lambda m: self.person(m.group(0)) or "", value)
