"""Test gating: live tests fail (never skip quietly) under CI=true or DOCKERTRACE_REQUIRE_LIVE."""

from __future__ import annotations

import os

import pytest


def live_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or bool(
        os.environ.get("DOCKERTRACE_REQUIRE_LIVE")
    )


def need(condition: bool, why: str) -> None:
    """Skip a live test whose prerequisite is missing, or fail it where live tests are required."""
    if condition:
        return
    if live_required():
        pytest.fail(f"live prerequisite missing (CI requires it): {why}")
    pytest.skip(why)
