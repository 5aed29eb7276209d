"""Baselines served by the same gunicorn configuration as Pilar, so ratios compare like with like.

(a) `hello`: a hello-world Flask JSON endpoint.
(b) `thin`: the thinnest endpoint doing a write's store work: load a case, append one
    FollowUpScheduled, save; no validation, authentication, idempotency or logging.
Both build their state per worker after the fork, like pilar/wsgi.py."""

from datetime import date, timedelta
from uuid import UUID

from flask import Flask, jsonify

from pilar.wsgi import PerProcessApp


def _hello() -> Flask:
    app = Flask("hello")

    @app.get("/hello")
    def hello():
        return jsonify(message="hello")

    return app


def _thin() -> Flask:
    from pilar.bootstrap import bootstrap

    service = bootstrap().cases
    app = Flask("thin")
    due = date.today() + timedelta(days=30)

    @app.post("/thin/<case_id>")
    def thin(case_id: str):
        case = service.repository.get(UUID(case_id))
        case.schedule_follow_up(actor="bench", due_on=due, purpose="bench")
        service.save(case)
        return jsonify(version=case.version)

    return app


hello = PerProcessApp(_hello)
thin = PerProcessApp(_thin)


# Worker setups tried for each baseline; the fastest on this machine is the one measured (a
# baseline in its own best setup, not in Pilar's). Sync workers hold one connection at a time.
SETUPS = [("sync", 2, 1), ("sync", 4, 1), ("gthread", 2, 1), ("gthread", 2, 2), ("gthread", 2, 4)]
READY_SECONDS = 120  # workers import Flask and build their app on a machine other work may load


class PlainGunicorn:
    """A baseline under plain gunicorn (no pilar/gunicorn_conf.py: no access log, no JSON logger, no
    projection process), `kind` workers × threads."""

    def __init__(self, settings, app: str, ready_path: str, setup: tuple[str, int, int]):
        from testkit.servers import free_port

        self.settings, self.app, self.ready_path, self.setup = settings, app, ready_path, setup
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self._log: "Path | None" = None  # gunicorn's output, for the error should it not start

    def __enter__(self) -> "PlainGunicorn":
        # A port free when chosen may be taken by the time gunicorn binds it (another process's
        # outgoing connection): gunicorn then exits, and a new port is tried.
        for attempt in range(3):
            if self._start():
                return self
            if self.process.poll() is None or attempt == 2:
                break
            from testkit.servers import free_port

            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
        said = self._log.read_text(errors="replace")[-1500:]
        self.__exit__()
        raise RuntimeError(f"{self.app} under gunicorn {self.setup} did not become ready in {READY_SECONDS} s; "
                           f"gunicorn said:\n{said}")

    def _start(self) -> bool:
        import subprocess
        import sys
        import tempfile
        import time
        from pathlib import Path

        import requests

        from pilar.settings import PROJECT_ROOT
        from testkit.servers import pilar_env

        kind, workers, threads = self.setup
        if self._log is not None:
            self._log.unlink(missing_ok=True)
        self._log = Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
        with self._log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "bench/plain_gunicorn.conf.py", "-k", kind, "-w", str(workers),
                 "--threads", str(threads), "-b", f"127.0.0.1:{self.port}", self.app],
                cwd=PROJECT_ROOT, env=pilar_env(self.settings), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                # Every worker builds its app on its first request: warm them all up.
                if all(requests.get(f"{self.url}{self.ready_path}", timeout=10).status_code < 500
                       for _ in range(4 * workers)):
                    return True
            except requests.RequestException:
                time.sleep(0.2)
        return False

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        if self._log is not None:
            self._log.unlink(missing_ok=True)


def describe(setup: tuple[str, int, int]) -> str:
    kind, workers, threads = setup
    return f"{kind}, {workers} workers" + (f" × {threads} threads" if kind == "gthread" else "")
