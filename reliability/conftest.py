"""The reliability suite reuses the main suite's fixtures: every test runs on SQLite and on a
real PostgreSQL (which never skips), each in its own file or schema."""

import os
import time
from pathlib import Path

import pytest

from reliability import harness, report
from testkit.fixtures import *  # noqa: F401,F403

_started = time.monotonic()


@pytest.fixture
def store_kind(store_url) -> str:  # noqa: F811
    return "postgres" if store_url.startswith("postgresql") else "sqlite"


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("RELIABILITY_REPORT")
    if not target or not report.RECORDS:
        return
    stats = session.config.pluginmanager.get_plugin("terminalreporter").stats
    passed = len([r for r in stats.get("passed", []) if r.when == "call"])
    failed = len([r for r in stats.get("failed", []) if r.when == "call"]) + len(stats.get("error", []))
    knobs = {k: v for k, v in os.environ.items() if k.startswith("RELIABILITY_") and k != "RELIABILITY_REPORT"}
    knobs.setdefault("RELIABILITY_SECONDS", str(harness.SECONDS))
    text = report.render(passed=passed, failed=failed, errors=0, seconds=time.monotonic() - _started, knobs=knobs)
    Path(target).write_text(text)
