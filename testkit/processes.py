"""The real projection process, run in a thread until it reaches a state a test waits for."""

import threading
import time

from projections.runner import ProjectionProcess


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
