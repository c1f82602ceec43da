"""The labels feed as an iterator: it reads `GET .../labels?after=CURSOR` page after page,
following each page's `next`, and keeps the cursor a consumer persists to resume later."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from quorum_client.errors import QuorumError

# One page of the feed: its labels and the cursor after them.
Page = tuple[list[dict[str, Any]], str | None]


class LabelFeed(Iterator[dict[str, Any]]):
    """Signed-off labels in sign-off order, each as a `labels` export record.

    It ends at the first empty page, unless `follow` is set: then it waits `poll_s`
    after an empty page and asks again, for ever (break out of the loop to stop).

    `cursor` is the position after the last label of the page being read, and it moves
    there as that page's last label is handed out. Store it after handling a label and
    pass it as `after=` to resume: nothing is skipped; resuming from a cursor stored in
    the middle of a page hands out that page's earlier labels again (at least once, never
    lost). Stored after the loop ended, it resumes with exactly the labels that came
    since."""

    def __init__(
        self,
        read_page: Callable[[str | None], Page],
        *,
        after: str | None = None,
        follow: bool = False,
        poll_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._read_page = read_page
        self.cursor = after
        self.follow = follow
        self.poll_s = poll_s
        self._sleep = sleep
        self._labels = self._read()

    def __iter__(self) -> LabelFeed:
        return self

    def __next__(self) -> dict[str, Any]:
        return next(self._labels)

    def _read(self) -> Iterator[dict[str, Any]]:
        while True:
            labels, following = self._read_page(self.cursor)
            if not labels:
                self.cursor = following or self.cursor
                if not self.follow:
                    return
                self._sleep(self.poll_s)
                continue
            if not following or following == self.cursor:
                # Reading on would hand out this page again and again.
                raise QuorumError(200, "invalid_response", "a page of labels without a new `next`")
            for position, label in enumerate(labels, start=1):
                if position == len(labels):
                    self.cursor = following
                yield label
