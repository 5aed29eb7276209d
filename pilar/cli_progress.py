"""How far a long command has got (rebuild, check, verify, export, backup, restore), on standard
error: one line rewritten in place on a terminal; otherwise a line every PILAR_PROGRESS_SECONDS
(default 10) for logs and cron mail, and always a last one, `label: N/M events (x%) ETA 1m05s`."""

import os
import sys
import time
from typing import TextIO


class Progress:
    """Called as `progress(done, total)` by the work, as often as it likes; `finish()` at the end."""

    def __init__(self, label: str, *, unit: str = "events", stream: TextIO | None = None,
                 every: float | None = None):
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        if every is None:
            every = 0.2 if self.tty else float(os.environ.get("PILAR_PROGRESS_SECONDS", "10"))
        self.every = every
        self.started = time.monotonic()
        self.shown = self.started
        self.first: tuple[float, int] | None = None  # the rate is measured from the first report on
        self.last: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
        self.last = (done, total)
        if now - self.shown >= self.every:
            self.shown = now
            self._show(done, total, now)

    def finish(self) -> None:
        if self.last is None:
            return
        done, total = self.last
        self._show(done, total, time.monotonic(), final=True)
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()

    def _show(self, done: int, total: int, now: float, final: bool = False) -> None:
        share = f" ({100 * done / total:.0f}%)" if total else ""
        if final:
            tail = f" in {_duration(now - self.started)}"
        else:
            tail = f" ETA {_duration(self._eta(done, total, now))}" if self._eta(done, total, now) is not None else ""
        line = f"{self.label}: {done}/{total} {self.unit}{share}{tail}"
        if self.tty:
            self.stream.write(f"\r\x1b[K{line}")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _eta(self, done: int, total: int, now: float) -> float | None:
        if self.first is None or done <= self.first[1] or now <= self.first[0]:
            return None
        rate = (done - self.first[1]) / (now - self.first[0])
        return max(total - done, 0) / rate


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
