"""What `verify` found: counts, the published head it compared with, and every break (the first
MAX_BREAKS of them in position order; `breaks_total` counts them all)."""

from dataclasses import asdict, dataclass, field

MAX_BREAKS = 100


@dataclass
class Break:
    kind: str
    message: str
    stream_id: str | None = None
    version: int | None = None
    position: int | None = None  # an event's position in the global order (the first of a range)
    last_position: int | None = None  # the last of a range of positions
    entry_id: str | None = None  # an access-log entry (the first of a range)
    access_seq: int | None = None  # its place in the access log's order (the first of a range)
    last_access_seq: int | None = None

    def where(self) -> str:
        if self.access_seq is not None:
            span = f"entries {self.access_seq}-{self.last_access_seq}" if self.last_access_seq else \
                f"entry {self.access_seq}"
            return f"access log {span}" + (f" (id {self.entry_id})" if self.entry_id else "")
        if self.position is None:
            return "the published heads"
        span = f"positions {self.position}-{self.last_position}" if self.last_position else f"position {self.position}"
        return span + (f", stream {self.stream_id}, version {self.version}" if self.stream_id else "")


@dataclass
class Verification:
    checked: int = 0
    sealed_up_to: int = 0
    unsealed: int = 0
    access_checked: int = 0
    access_sealed_up_to: int = 0
    access_unsealed: int = 0
    breaks: list[Break] = field(default_factory=list)
    breaks_total: int = 0
    heads: dict = field(default_factory=lambda: {"file": None, "status": "not configured"})
    broken_positions: set[int] = field(default_factory=set, repr=False)

    @property
    def ok(self) -> bool:
        return self.breaks_total == 0

    def add(self, found: Break) -> None:
        self.breaks_total += 1
        if found.position is not None:
            self.broken_positions.add(found.position)
        if len(self.breaks) < MAX_BREAKS:
            self.breaks.append(found)

    def summary(self) -> list[str]:
        heads = self.heads
        published = (f"checked against the head published at {heads['at']} (position {heads['position']}, "
                     f"access-log entry {heads['access_seq']})" if heads["status"] == "checked" else heads["status"])
        return [f"checked {self.checked} events; sealed up to position {self.sealed_up_to}; "
                f"{self.unsealed} not yet sealed",
                f"checked {self.access_checked} access-log entries; sealed up to entry {self.access_sealed_up_to}; "
                f"{self.access_unsealed} entries not yet sealed",
                f"heads: {published}" + (f" ({heads['file']})" if heads["file"] else "")]

    def break_lines(self) -> list[str]:
        lines = [f"BROKEN ({b.kind}) at {b.where()}: {b.message}" for b in self.breaks]
        if self.breaks_total > len(self.breaks):
            lines.append(f"... and {self.breaks_total - len(self.breaks)} more breaks")
        return lines

    def as_dict(self) -> dict:
        first = self.breaks[0] if self.breaks else None
        return {
            "ok": self.ok, "events_checked": self.checked, "sealed_up_to": self.sealed_up_to,
            "unsealed_events": self.unsealed,
            "access_log": {"entries_checked": self.access_checked, "sealed_up_to": self.access_sealed_up_to,
                           "unsealed_entries": self.access_unsealed},
            "heads": self.heads,
            "first_break": None if first is None else asdict(first),
            "breaks": [asdict(b) for b in self.breaks],
            "breaks_total": self.breaks_total,
        }
