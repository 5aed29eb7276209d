"""Languages and Indonesian forms: Bahasa Indonesia by default, English when chosen (kept in the
session); dates as `29 Nov 2026` in the chosen language, rupiah always in Indonesian form
(`Rp1.500.000`), times in Asia/Jakarta (WIB)."""

from datetime import date, datetime, timezone

from babel.numbers import format_currency
from flask import Flask, session
from flask_babel import format_date, format_datetime, get_locale


LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}
DEFAULT = "id"
TIMEZONE = "Asia/Jakarta"


def locale() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT


def tanggal(value: date | datetime | str | None) -> str:
    """29 Nov 2026 (Indonesian) / 29 Nov 2026 (English month names)."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = _moment(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return format_datetime(value, "d MMM y")
    return format_date(value, "d MMM y")


def waktu(value: datetime | str | None) -> str:
    """29 Nov 2026 14.05 WIB: a moment, in Asia/Jakarta."""
    if value is None or value == "":
        return "–"
    moment = _moment(value) if isinstance(value, str) else value
    return format_datetime(moment, "d MMM y HH.mm") + " WIB"


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def rupiah(value: int | None) -> str:
    if value is None:
        return "–"
    return format_currency(value, "IDR", locale="id", format="¤#,##0", currency_digits=False)


def install_filters(app: Flask) -> None:
    app.add_template_filter(tanggal)
    app.add_template_filter(waktu)
    app.add_template_filter(rupiah)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_language=lambda: str(get_locale() or DEFAULT))
