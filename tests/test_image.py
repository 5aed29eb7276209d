"""deploy/: the image built and run for real, with podman (deploy/check-image.sh): built from
deploy/Dockerfile on a Debian bookworm slim base made here, then served alone on SQLite and as
deploy/compose.yaml's whole stack (PostgreSQL, `pilar db init`, gunicorn with its projection process,
nginx with TLS), each answering /healthz and /readyz, a sign-in, and a case written and read back,
every process of the image running as the user pilar; then pilar and nginx each restarted. Slow
from nothing (a debootstrap and three image builds, about 5 min); a few minutes with its caches."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pilar.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _left(kind: str) -> set[str]:
    """podman's containers or volumes ("ps -a" or "volume ls"), none before the check installs podman."""
    if not shutil.which("podman"):
        return set()
    return set(subprocess.run(["podman", *kind.split(), "-q"], capture_output=True, text=True, check=True).stdout.split())


def test_the_image_builds_and_serves_alone_and_as_the_compose_stack():
    before = {kind: _left(kind) for kind in ("ps -a", "volume ls")}
    run = subprocess.run(["bash", str(PROJECT_ROOT / "deploy" / "check-image.sh")], capture_output=True, text=True,
                         env=os.environ | {"PODMAN_COMPOSE": str(Path(sys.executable).parent / "podman-compose")},
                         timeout=1800)
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    served = re.findall(r"^   ok: (\S+): healthz, readyz, sign-in, case \S+ written and read back, views at \d+, "
                        r"\d+ processes all pilar \(uid [1-9]\d*\)$", run.stdout, re.MULTILINE)
    assert len(served) == 2 and served[0].endswith("-alone") and served[1].endswith("_pilar_1"), run.stdout
    assert "== compose: restart pilar, read the case again" in run.stdout
    assert "== compose: restart nginx, read the case again" in run.stdout
    assert run.stdout.rstrip().splitlines()[-1].startswith("== all checks passed")
    assert {kind: _left(kind) for kind in before} == before  # no container nor volume left behind
