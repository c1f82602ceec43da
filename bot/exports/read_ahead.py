"""Reading the next pages while the current one is written.

Most of an export's database time is spent inside the driver (SQLite's C code, or
waiting on PostgreSQL), which releases the GIL: a reader thread a couple of pages
ahead overlaps it with building and writing rows. At most `depth` pages wait in the
queue, so memory stays flat.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from queue import Empty, Full, Queue
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(produce: Callable[[], Iterator[T]], *, depth: int = 2) -> Iterator[T]:
    """The items of `produce()`, computed in a background thread at most `depth` ahead.
    An error in the reader is raised here; stopping early stops the reader."""
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def work() -> None:
        try:
            for item in produce():
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            put(_Failed(error))

    reader = threading.Thread(target=work, name="export-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            try:
                item = queue.get(timeout=0.5)
            except Empty:
                if not reader.is_alive() and queue.empty():
                    raise RuntimeError("the export's reader stopped without a result") from None
                continue
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        reader.join()
