"""The real projection process, run in a thread until it reaches a state a test waits for."""

import threading
import time

from pilar.projections.runner import ProjectionProcess


def run_projection_until(settings, state: str, timeout: float = 20) -> str:
    """Runs the projection process until it reports `state` (or `timeout` passes), stops it, and
    answers the state it was in."""
    stop = threading.Event()
    process = ProjectionProcess(settings, poll_interval=0.1, stop=stop)
    runner = threading.Thread(target=process.run)
    runner.start()
    try:
        deadline = time.monotonic() + timeout
        while process.state != state and time.monotonic() < deadline:
            time.sleep(0.05)
        return process.state
    finally:
        stop.set()
        runner.join(timeout=timeout)


class ProjectionThread:
    """The real projection process, run in a thread until stop(); `error` is what ended it, if anything did."""

    def __init__(self, settings):
        self.stopping = threading.Event()
        self.process = ProjectionProcess(settings, poll_interval=0.1, stop=self.stopping)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.process.run()
        except BaseException as error:  # noqa: BLE001 - kept for the test to look at
            self.error = error

    def start(self) -> "ProjectionThread":
        self.thread.start()
        return self

    def stop(self, timeout: float = 20) -> None:
        self.stopping.set()
        self.thread.join(timeout=timeout)

    def __enter__(self) -> "ProjectionThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
