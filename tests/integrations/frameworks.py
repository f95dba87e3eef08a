"""Import an optional framework for a test module: skip without it, but fail under CI.

CI installs the extras (scripts/lib.sh's ensure_venv), so a missing framework there is a
broken set-up, not a reason to pass quietly.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

_REQUIRED = os.environ.get("CI") == "true" or os.environ.get("SANDBOX_REQUIRE_DOCKER") == "1"


def require(module: str, extra: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        message = f"{module} is not installed ({exc}): pip install -e '.[{extra}]' (scripts/test installs it)"
        if _REQUIRED:
            pytest.fail(message, pytrace=False)
        pytest.skip(message, allow_module_level=True)
