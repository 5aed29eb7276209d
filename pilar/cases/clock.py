"""Pilar's clock: event times are UTC; days, months and "overdue" are judged in Asia/Jakarta."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


def now_utc() -> datetime:
    """Now, for deadlines counted in hours (UU PDP's 3×24 h)."""
    return datetime.now(timezone.utc)


def today_in_jakarta() -> date:
    return datetime.now(JAKARTA).date()


def jakarta_month(moment: datetime) -> str:
    return moment.astimezone(JAKARTA).strftime("%Y-%m")


def utc_text(moment: datetime) -> str:
    """Fixed-width UTC text, so that text order is time order on every store."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def is_overdue(next_due: date | str | None, closed: bool, today: date) -> bool:
    """The one judgement of "overdue" (SPEC §4): an open case whose next follow-up is past due.
    Views keep dates as ISO text, which orders as dates do."""
    if closed or next_due is None:
        return False
    return next_due < (today.isoformat() if isinstance(next_due, str) else today)
