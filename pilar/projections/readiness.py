"""What `/readyz` says about the read side: whether a projection process leads and moves, and how
far behind the store the views are, in seconds. Decided from the heartbeat row
(pilar/projections/heartbeat.py) and the positions, both read in one cheap query."""

from dataclasses import dataclass
from typing import Any

from pilar.projections.heartbeat import Beat


@dataclass(frozen=True)
class Thresholds:
    max_lag: float  # PILAR_READY_MAX_LAG: seconds the views may trail the store
    projector_timeout: float  # PILAR_READY_PROJECTOR_TIMEOUT: seconds without a leading, moving projection process


@dataclass(frozen=True)
class Check:
    ok: bool
    message: str
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message, **self.details}


def projection_check(beat: Beat | None, limits: Thresholds, now: float, up_since: float) -> Check:
    """`up_since`: when this server started; a store that never had a projection process is given
    that long to get one."""
    timeout = limits.projector_timeout
    if beat is None:
        waited = now - up_since
        return Check(waited <= timeout, "no projection process has ever run on this store"
                     if waited > timeout else "waiting for a projection process to start", {})
    details = {"leader": beat.leader, "state": beat.state, "restarts": beat.restarts,
               "seconds_since_heartbeat": round(max(now - beat.beat_at, 0), 1)}
    if beat.error_position is not None:
        details.update(stuck_on_position=beat.error_position, error=beat.error)
        return Check(False, f"the projection process is stuck on the event at position {beat.error_position} "
                            f"({beat.error}); the views stand still", details)
    silent = now - beat.beat_at
    if silent > timeout:
        return Check(False, f"no leading projection process for {silent:.0f} s (the last, {beat.leader}, "
                            f"was {beat.state})", details)
    in_state = now - beat.since
    if beat.state != "active" and in_state > timeout:
        return Check(False, f"the projection process has been {beat.state} for {in_state:.0f} s "
                            f"({beat.restarts} restarts so far)", details)
    return Check(True, f"{beat.state}: {beat.leader}", details)


def lag_seconds(position: int, head: int, beat: Beat | None, now: float, up_since: float) -> float:
    """How long the views have trailed the store: 0 when they hold every event; otherwise since
    they last held every stored event (the heartbeat's catch-up time; without a heartbeat, at
    least since this server started)."""
    if position >= head:
        return 0.0
    caught_up_at = beat.caught_up_at if beat is not None else up_since
    return max(now - caught_up_at, 0.0)


def lag_check(position: int, head: int, beat: Beat | None, limits: Thresholds, now: float, up_since: float) -> Check:
    seconds = lag_seconds(position, head, beat, now, up_since)
    details = {"events": max(head - position, 0), "seconds": round(seconds, 1)}
    if seconds > limits.max_lag:
        return Check(False, f"the views trail the store by {head - position} events and {seconds:.0f} s "
                            f"(more than {limits.max_lag:g} s)", details)
    return Check(True, "the views are current" if position >= head else "the views are catching up", details)
