"""How `pilar projections rebuild` and `check` share the machine with the servers they run beside:
after each page of work they pause for `ratio` times as long as the page took. At the default
ratio of 1 a command takes about half a core (and on SQLite the write lock at most half the
time), so on a small server the writers and readers keep a core to themselves; 0 runs flat out,
for a quiet hour (on SQLite it still gives way as long as it held the write lock: scratch.py).
docs/operations.md, "Rebuilding and checking the views, online"."""

import time

PAUSE_RATIO = 1.0


class Pace:
    def __init__(self, ratio: float = PAUSE_RATIO):
        if ratio < 0:
            raise ValueError("the pause ratio cannot be negative")
        self.ratio = ratio
        self.sleep = time.sleep

    def after(self, worked: float, at_least: float = 0.0) -> None:
        """The pause after a page of work that took `worked` seconds (at least `at_least`)."""
        self.sleep(max(self.ratio * worked, at_least))
