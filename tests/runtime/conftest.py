"""Fixtures for the HTTP server and the serving processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.factories import stop_started_processes


@pytest.fixture(autouse=True)
def no_stray_processes() -> Iterator[None]:
    """Whatever a failing test leaves running is stopped (only processes it started)."""
    yield
    stop_started_processes()
