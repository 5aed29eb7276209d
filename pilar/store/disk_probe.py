"""Whether the local disks Pilar writes to still take writes: a few bytes written, flushed to the
disk and removed, in each folder, remembered for a few seconds so that `/readyz` stays cheap."""

import errno
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

PROBE_BYTES = b"pilar write probe\n" * 228  # ~4 KiB: one page, as a write of the store would need
REMEMBER_SECONDS = 5.0


class DiskProbe:
    def __init__(self, folders: Iterable[Path], remember: float = REMEMBER_SECONDS):
        self.folders = list(dict.fromkeys(Path(f) for f in folders))
        self.remember = remember
        self._lock = threading.Lock()
        self._last: tuple[float, list[str]] = (float("-inf"), [])

    def failures(self) -> list[str]:
        """One message per folder that refused the probe (none: every disk took it)."""
        with self._lock:
            at, failures = self._last
            if time.monotonic() - at >= self.remember:
                failures = [message for folder in self.folders if (message := _probe(folder))]
                self._last = (time.monotonic(), failures)
            return failures


def _probe(folder: Path) -> str | None:
    if not folder.is_dir():
        return None  # nothing of Pilar's is written there (e.g. no instance folder beside PostgreSQL)
    path = folder / f".pilar-write-probe-{os.getpid()}-{threading.get_ident()}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            if os.write(fd, PROBE_BYTES) < len(PROBE_BYTES):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        return f"{folder}: {error.strerror or error}"
    finally:
        try:
            path.unlink()
        except OSError:
            pass
    return None
