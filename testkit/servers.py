"""Real gunicorn processes for tests whose behaviour depends on processes and HTTP."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from pilar.settings import PROJECT_ROOT, Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pilar_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PILAR_DATABASE_URL=settings.store.url,
        PILAR_INSTANCE_PATH=str(settings.instance_path),
        PILAR_SECRET_KEY=settings.secret_key or "",
        PILAR_AUDIT_KEY=settings.audit_secret or "",
        PILAR_KEK=settings.kek or "",
        PILAR_LOOKUP_KEY=settings.lookup_secret or "",
        PILAR_HEADS_FILE=str(settings.heads_file or ""),
        PILAR_ERASURE_LEDGER=str(settings.erasure_ledger or ""),
        PILAR_LOG_FORMAT=settings.log_format,
        PILAR_WILAYAH_CSV=str(settings.wilayah_csv),
        PILAR_MAX_BODY_BYTES=str(settings.max_body_bytes),
        PILAR_TRUSTED_PROXIES=str(settings.trusted_proxies),
        PILAR_CORS_ORIGINS=",".join(settings.cors_origins),
        PILAR_LAWFUL_BASIS=",".join(f"{pillar}={basis}" for pillar, basis in settings.lawful_bases),
        PILAR_ACCESS_LOG="",
        PILAR_SIGNIN_LIMIT_USER=settings.signin_limit_user,
        PILAR_SIGNIN_LIMIT_ADDRESS=settings.signin_limit_address,
        PILAR_LOOKUP_LIMIT=settings.lookup_limit,
        PILAR_RATE_LIMIT_STORAGE=settings.rate_limit_storage or "",
        PILAR_READY_MAX_LAG=str(settings.ready_max_lag),
        PILAR_READY_PROJECTOR_TIMEOUT=str(settings.ready_projector_timeout),
    )
    return env


class Gunicorn:
    def __init__(self, settings: Settings, *, workers: int = 3, log: Path | None = None, projector: bool = False,
                 app: str = "pilar.wsgi:app", ready_path: str = "/healthz", env: dict[str, str] | None = None):
        self.settings = settings
        self.env = env or {}
        self.projector = projector
        self.app = app
        self.ready_path = ready_path
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> "Gunicorn":
        env = pilar_env(self.settings) | {"PILAR_WORKERS": str(self.workers),
                                          "PILAR_PROJECTOR": "on" if self.projector else "off"} | self.env
        if self.log:
            with open(self.log, "ab") as out:
                self.process = self._spawn(env, out)
        else:
            self.process = self._spawn(env, subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process.wait()
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                if requests.get(f"{self.url}{self.ready_path}", timeout=1).status_code < 500:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise RuntimeError("gunicorn did not become ready in 30 s")

    def _spawn(self, env: dict[str, str], out) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:pilar.gunicorn_conf", "-b", f"127.0.0.1:{self.port}", self.app],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out,
        )

    def pids(self) -> list[int]:
        """The master first, then its workers (not the projection companion)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        workers = [int(pid) for pid in children
                   if b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        return [self.process.pid, *workers]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "Gunicorn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def token(url: str, username: str, password: str) -> str:
    response = requests.post(f"{url}/api/v1/auth/token", json={"username": username, "password": password}, timeout=10)
    response.raise_for_status()
    return response.json()["token"]


def wait_until(predicate, seconds: float = 30.0, what: str = "condition", step: float = 0.2):
    """`predicate()`'s first truthy answer, asked every `step` seconds; a request that fails
    meanwhile (a server starting or stopping) counts as not yet. Fails naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if (found := predicate()):
                return found
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"{what} not reached in {seconds} s"
        time.sleep(step)
