"""Input rules: what a well-typed value must also be to be accepted. Written once here, for
every caller (API, pages, CLI, demo); the API's 422 `errors` carries these messages unchanged,
nested as the request nests them. Schemas (pilar/api/schemas/) check only shape and type."""

import re
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from pilar.cases import vocab
from pilar.cases.clock import today_in_jakarta
from pilar.cases.errors import InvalidInput
from pilar.cases.nik import kk_problems, nik_birth_problems, nik_problems
from pilar.cases.wilayah import Wilayah

TEXT_MAX = 2000  # free text: reasons, summaries, purposes, notes
SHORT_MAX = 200  # names, items, who referred or gave consent
ADDRESS_MAX = 500
UNIT_MAX = 40
QUANTITY_MAX = 1_000_000
VALUE_IDR_MAX = 10**13
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")
DESIL_PERIOD = re.compile(r"^20[0-9]{2}Q[1-4]$")
_UNSTORABLE = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Field = str | tuple[str, ...]


class Problems:
    """Every problem of one input, by field. A nested field is named by a tuple, e.g.
    ("referral", "source"), and reported nested: {"referral": {"source": [...]}}."""

    def __init__(self) -> None:
        self.errors: dict[str, Any] = {}

    def add(self, field: Field, message: str) -> None:
        path = (field,) if isinstance(field, str) else field
        node = self.errors
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(path[-1], []).append(message)

    def choice(self, field: Field, value: Any, choices: Iterable[str]) -> None:
        choices = tuple(choices)
        if value not in choices:
            self.add(field, f"{value!r} is not one of: {', '.join(choices)}")

    def choices(self, field: Field, values: list[str], choices: tuple[str, ...], *, at_most: int,
                what: str, unique: bool = True) -> None:
        if not isinstance(values, list):
            self.add(field, f"must be a list of {what}s")
            return
        if not values:
            self.add(field, f"name at least one {what}")
        elif len(values) > at_most:
            self.add(field, f"name at most {at_most}")
        for value in values:
            self.choice(field, value, choices)
        if unique and len(set(map(str, values))) != len(values):
            self.add(field, "each once")

    def fields(self, field: str, value: Any, known: tuple[str, ...]) -> bool:
        """Whether `value` is an object with no field but `known` (each named if unknown)."""
        if not isinstance(value, dict):
            self.add(field, f"must be an object with {', '.join(known)}")
            return False
        for name in value:
            if name not in known:
                self.add((field, str(name)), "unknown field")
        return True

    def text(self, field: Field, value: str | None, *, longest: int = TEXT_MAX, required: bool = True) -> None:
        """Free text: storable and showable, within `longest` characters, not empty if required."""
        if value is None:
            return
        if not isinstance(value, str):
            self.add(field, "must be text")
        elif problem := text_problem(value):
            self.add(field, problem)
        elif len(value) > longest:
            self.add(field, f"must be at most {longest} characters")
        elif required and not value:
            self.add(field, "must not be empty")

    def whole(self, field: Field, value: int, lowest: int, highest: int) -> None:
        if not lowest <= value <= highest:
            self.add(field, f"must be a whole number from {lowest} to {highest}")

    def check(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)


def text_problem(text: str) -> str | None:
    """Text that cannot be stored as UTF-8 (lone surrogates) or shown (control characters)."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if 0xD800 <= code <= 0xDFFF:
        return "contains an unpaired UTF-16 surrogate; send valid Unicode text"
    return f"contains the control character U+{code:04X}"


def check_desa(problems: Problems, field: Field, desa_code: str, wilayah: Wilayah) -> None:
    if wilayah.village(desa_code) is None:
        problems.add(field, f"{desa_code!r} is not a desa or kelurahan of {wilayah.regency.name}")


def check_person_fields(details: dict[str, Any], *, at: tuple[str, ...] = ()) -> None:
    """Each given field of a person on its own; a correction's under ("changes",), where it was sent."""
    problems = Problems()
    _person_fields(problems, details, at)
    problems.check()


def check_person(details: dict[str, Any], wilayah: Wilayah) -> None:
    """A person as they will stand (after a correction: merged with what is stored): the NIK
    against birth date and sex, the desa in this regency, each named by its field."""
    problems = Problems()
    _person_as_a_whole(problems, details, wilayah)
    problems.check()


def _person_fields(problems: Problems, details: dict[str, Any], at: tuple[str, ...]) -> None:
    """Each given field on its own."""
    if "nik" in details:
        for message in nik_problems(details["nik"]):
            problems.add((*at, "nik"), message)
    if details.get("kk") is not None:
        for message in kk_problems(details["kk"]):
            problems.add((*at, "kk"), message)
    if "sex" in details:
        problems.choice((*at, "sex"), details["sex"], vocab.SEXES)
    if "name" in details:
        problems.text((*at, "name"), details["name"], longest=SHORT_MAX)
    problems.text((*at, "address"), details.get("address"), longest=ADDRESS_MAX, required=False)
    phone = details.get("phone")
    if phone is not None and not PHONE.match(phone):
        problems.add((*at, "phone"), "not a phone number")


def _person_as_a_whole(problems: Problems, details: dict[str, Any], wilayah: Wilayah) -> None:
    nik, birth_date, sex = details["nik"], details["birth_date"], details["sex"]
    if not nik_problems(nik) and birth_date is not None and sex in vocab.SEXES:
        for message in nik_birth_problems(nik, birth_date, sex):
            problems.add("nik", message)
    if birth_date is not None:
        if birth_date > today_in_jakarta():
            problems.add("birth_date", "is in the future")
        elif birth_date.year < 1900:
            problems.add("birth_date", "is before 1900")
    check_desa(problems, "desa_code", details["desa_code"], wilayah)
    if isinstance(details.get("name"), str) and details["name"] and not details["name"].strip():
        problems.add("name", "must not be blank")


def check_consent(given_by: str, method: str, purpose: str) -> None:
    problems = Problems()
    problems.text("given_by", given_by, longest=SHORT_MAX)
    problems.choice("method", method, vocab.CONSENT_METHODS)
    problems.text("purpose", purpose)
    problems.check()


def check_reason(reason: str, field: str = "reason") -> None:
    problems = Problems()
    problems.text(field, reason)
    problems.check()


def check_referral_in(problems: Problems, referral: dict[str, Any]) -> None:
    if not problems.fields("referral", referral, ("source", "referred_by", "reason")):
        return
    problems.choice(("referral", "source"), referral.get("source"), vocab.REFERRAL_SOURCES)
    problems.text(("referral", "referred_by"), referral.get("referred_by", ""), longest=SHORT_MAX)
    problems.text(("referral", "reason"), referral.get("reason", ""))


def check_assessment(needs: list[str], risk: str, summary: str, desil: dict[str, Any] | None) -> None:
    problems = Problems()
    # A need named twice is recorded once (the command keeps the first), as before.
    problems.choices("needs", needs, vocab.AID_COMPONENTS, at_most=len(vocab.AID_COMPONENTS), what="aid component",
                     unique=False)
    problems.choice("risk", risk, vocab.RISKS)
    if desil is not None and problems.fields("desil", desil, ("value", "period")):
        value = desil.get("value")
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(("desil", "value"), "must be a whole number from 1 to 10")
        else:
            problems.whole(("desil", "value"), value, 1, 10)
        if not isinstance(desil.get("period"), str) or not DESIL_PERIOD.match(desil["period"]):
            problems.add(("desil", "period"), "must be a quarter like 2026Q3")
    problems.text("summary", summary)
    problems.check()


def check_aid(*, component: str, item: str, quantity: int, unit: str, value_idr: int, funding_source: str,
              given_on: date) -> None:
    problems = Problems()
    problems.choice("component", component, vocab.AID_COMPONENTS)
    problems.text("item", item, longest=SHORT_MAX)
    problems.whole("quantity", quantity, 1, QUANTITY_MAX)
    problems.text("unit", unit, longest=UNIT_MAX)
    problems.whole("value_idr", value_idr, 0, VALUE_IDR_MAX)
    problems.choice("funding_source", funding_source, vocab.FUNDING_SOURCES)
    today = today_in_jakarta()
    if given_on > today:
        problems.add("given_on", "is in the future (dates are judged in Asia/Jakarta)")
    elif given_on < today - timedelta(days=10 * 366):
        problems.add("given_on", "is more than ten years ago; check the year")
    problems.check()


def check_follow_up(due_on: date, purpose: str) -> None:
    # A visit agreed in the field may be entered days later (weak connections), so a due date
    # in the past is accepted, and is overdue at once; a year back or five ahead is a typo.
    problems = Problems()
    today = today_in_jakarta()
    if not today - timedelta(days=366) <= due_on <= today + timedelta(days=5 * 366):
        problems.add("due_on", "must be within a year before and five years after today (Asia/Jakarta)")
    problems.text("purpose", purpose)
    problems.check()


def check_outcome(field: str, outcome: str, choices: tuple[str, ...], note_field: str, note: str) -> None:
    """A follow-up's or a closure's outcome, and its optional note."""
    problems = Problems()
    problems.choice(field, outcome, choices)
    problems.text(note_field, note, required=False)
    problems.check()
