"""Runs `pilar project` beside a gunicorn master (started from pilar/gunicorn_conf.py), restarting
it if it dies. Several app servers may each run one: only one leads, the rest stand by."""

import logging
import subprocess
import sys
import threading

log = logging.getLogger("pilar.projection")


class ProjectorCompanion:
    def __init__(self, restart_delay: float = 1.0):
        self.restart_delay = restart_delay
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="projector-companion", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        # Its own session: a Ctrl-C meant for the server reaches it only through stop().
        self.process = subprocess.Popen([sys.executable, "-m", "pilar.cli", "project", "--exit-with-parent"],
                                        start_new_session=True)
        log.info("projection process started (pid %s)", self.process.pid)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            code = self.process.wait()
            if self._stopping.is_set():
                return
            log.warning("projection process exited with %s; restarting", code)
            if self._stopping.wait(self.restart_delay):
                return
            self._spawn()

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
