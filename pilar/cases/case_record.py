"""What a case keeps of its aid and follow-ups: every open follow-up, the latest AID_KEPT aid
entries and FOLLOW_UPS_KEPT completed follow-ups in full, and counts and totals of everything.
The rest stays in the case's events (its history). A case's state, its snapshots and its answer
then stay small however long the case runs: every write loads and every snapshot stores the
whole state, so a state that grew with every event made long cases slow to write and heavy to
read on a phone.

The ids of the completed follow-ups no longer kept in full are kept (ids only), so completing
one again is still told the rule rather than that it does not exist."""

from typing import Any

AID_KEPT = 20
FOLLOW_UPS_KEPT = 20


def start(case: Any) -> None:
    case.aid = []
    case.aid_count = 0
    case.aid_value_idr = 0
    case.follow_ups = []
    case.follow_ups_scheduled = 0
    case.follow_ups_completed = 0
    case.earlier_follow_up_ids = []


def add_aid(case: Any, event: Any) -> None:
    case.aid.append({
        "component": event.component,
        "item": event.item,
        "quantity": event.quantity,
        "unit": event.unit,
        "value_idr": event.value_idr,
        "funding_source": event.funding_source,
        "given_on": event.given_on,
        "recorded_at": event.timestamp,
        "recorded_by": event.actor,
    })
    case.aid_count += 1
    case.aid_value_idr += event.value_idr
    del case.aid[:-AID_KEPT]


def add_follow_up(case: Any, event: Any) -> None:
    case.follow_ups.append({
        "id": event.follow_up_id,
        "due_on": event.due_on,
        "purpose": event.purpose,
        "scheduled_at": event.timestamp,
        "scheduled_by": event.actor,
        "completed_at": None,
        "completed_by": None,
        "outcome": None,
        "notes": None,
    })
    case.follow_ups_scheduled += 1


def complete_follow_up(case: Any, follow_up: dict[str, Any], event: Any) -> None:
    follow_up.update(completed_at=event.timestamp, completed_by=event.actor, outcome=event.outcome,
                     notes=event.notes)
    case.follow_ups_completed += 1
    case.follow_ups, earlier = _trimmed(case.follow_ups)
    case.earlier_follow_up_ids.extend(earlier)


def was_completed_earlier(case: Any, follow_up_id: str) -> bool:
    return follow_up_id in case.earlier_follow_up_ids


def _trimmed(follow_ups: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """(the follow-ups kept: every open one and the latest completed, in their order; the ids of
    the completed ones dropped)."""
    completed = [f for f in follow_ups if f["completed_at"] is not None]
    if len(completed) <= FOLLOW_UPS_KEPT:
        return follow_ups, []
    dropped = {f["id"] for f in sorted(completed, key=lambda f: f["completed_at"])[:-FOLLOW_UPS_KEPT]}
    return [f for f in follow_ups if f["id"] not in dropped], [f["id"] for f in follow_ups if f["id"] in dropped]


def summary(case: Any) -> dict[str, dict[str, int]]:
    """Counts of everything, and how many of each the state (and so the case's answer) shows."""
    open_follow_ups = sum(1 for f in case.follow_ups if f["completed_at"] is None)
    return {
        "aid": {"count": case.aid_count, "value_idr": case.aid_value_idr, "shown": len(case.aid)},
        "follow_ups": {"scheduled": case.follow_ups_scheduled, "completed": case.follow_ups_completed,
                       "open": open_follow_ups, "shown": len(case.follow_ups)},
    }


def upcast_v1_v2(state: dict[str, Any]) -> None:
    """A snapshot taken when a case kept all its aid and follow-ups: count them, then keep what
    a case keeps now."""
    aid = state.get("aid", [])
    follow_ups = state.get("follow_ups", [])
    state["aid_count"] = len(aid)
    state["aid_value_idr"] = sum(entry["value_idr"] for entry in aid)
    state["aid"] = aid[-AID_KEPT:]
    state["follow_ups_scheduled"] = len(follow_ups)
    state["follow_ups_completed"] = sum(1 for f in follow_ups if f["completed_at"] is not None)
    state["follow_ups"], state["earlier_follow_up_ids"] = _trimmed(follow_ups)
