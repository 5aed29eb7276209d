"""`make run` as a newcomer sees it: a few plain lines, then what to do next (the pages' and the API
docs' addresses, the admin's one-time password on the first run only, `make demo`)."""

import os
import re
import signal
import subprocess
import time

import pytest
import requests

from pilar.settings import PROJECT_ROOT
from testkit.servers import free_port

pytestmark = pytest.mark.slow


def _make_run(env: dict[str, str]) -> str:
    """Its output up to and including the closing note (and a second more), then stopped."""
    process = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "make demo" in line:
                assert requests.get(f"http://127.0.0.1:{env['PORT']}/healthz", timeout=5).status_code == 200
                break
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        process.stdout.close()
    return "".join(lines)


def test_make_run_is_quiet_and_ends_with_what_to_do_next(store_url, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILAR_")} | {
        "PORT": str(port), "PILAR_INSTANCE_PATH": str(tmp_path / "instance"), "PILAR_DATABASE_URL": store_url}
    first = _make_run(env)
    url = f"http://127.0.0.1:{port}"
    note = first[first.index("Pilar is running"):]
    assert f"pages     {url}/" in note and f"API docs  {url}/api/v1/docs" in note and "make demo" in note
    password = re.search(r"Created user 'admin' with one-time password:\s+(\S+)", note).group(1)
    assert first.count(password) == 1
    # `store ready` and the projection process leading, at most
    assert len(first[:first.index("Pilar is running")].strip().splitlines()) <= 2, first
    assert not re.search(r"(?i)warning|setuptools|traceback", first), first

    again = _make_run(env)
    assert "Created user" not in again and "Sign in as admin" in again
    assert (tmp_path / "instance" / "secret_key").exists()
