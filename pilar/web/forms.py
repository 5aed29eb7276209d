"""A page's form: its fields (each rendered with a label, pilar/web/templates/_fields.html), turning what
was typed into a command's arguments (types only: every rule is the application service's,
pilar/cases/inputs.py), and the domain's problems shown next to their fields in the reader's language.

A nested field of a command (e.g. `referral.source`) is the form field `referral-source`."""

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from pilar.web.labels import options


@dataclass(frozen=True)
class Field:
    name: str  # the command's argument; "a-b" for argument a's field b
    label: Any
    kind: str = "text"  # text, textarea, select, checkboxes, number, date, hidden
    vocabulary: str | None = None
    required: bool = True
    hint: Any = None
    empty: str | None = None  # what an optional field left blank sends; None: nothing (the command's default)

    def choices(self) -> list[tuple[str, str]]:
        return options(self.vocabulary) if self.vocabulary else []


@dataclass
class Filled:
    """What was typed (kept to show again) and the problems of each field."""

    values: MultiDict = field(default_factory=MultiDict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    message: str | None = None  # a problem of the whole form (a broken rule, a stale form)

    def __post_init__(self) -> None:
        if not isinstance(self.values, MultiDict):
            self.values = MultiDict(self.values)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


class TypeProblems(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors


def arguments(fields: list[Field], form: MultiDict) -> dict[str, Any]:
    """The command's keyword arguments from a submitted form; TypeProblems if a value is not of its
    type (a date that is no date, a number that is no whole number). Empty optional fields are left out."""
    found: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    for f in fields:
        if f.kind == "checkboxes":
            value: Any = form.getlist(f.name)
        else:
            value = form.get(f.name, "").strip() if f.kind != "textarea" else form.get(f.name, "")
            if value == "" and not f.required:
                if f.empty is None:
                    continue
                value = f.empty
            try:
                value = _typed(f.kind, value)
            except ValueError as exc:
                problems[f.name] = [str(exc)]
                continue
        outer, _sep, inner = f.name.partition("-")
        if inner:
            found.setdefault(outer, {})[inner] = value
        else:
            found[outer] = value
    if problems:
        raise TypeProblems(problems)
    return found


WHOLE = re.compile(r"[0-9]{1,16}|[0-9]{1,3}(\.[0-9]{3}){1,5}")


def _typed(kind: str, value: str) -> Any:
    if kind == "number":
        # Digits, or thousands grouped with dots as Indonesians write them (1.500.000); never a decimal.
        if not WHOLE.fullmatch(value):
            raise ValueError(_("Enter a whole number (digits only)."))
        return int(value.replace(".", ""))
    if kind == "date":
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(_("Enter a date (year-month-day).")) from None
    return value


def field_errors(errors: dict[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """The domain's nested problems ({"referral": {"source": [...]}}) by form field, translated."""
    flat: dict[str, list[str]] = {}
    for name, problems in errors.items():
        if isinstance(problems, dict):
            flat.update(field_errors(problems, f"{prefix}{name}-"))
        else:
            flat[f"{prefix}{name}"] = [translated(p) for p in problems]
    return flat


# The input rules' messages (pilar/cases/inputs.py, pilar/cases/nik.py) in the reader's language; one not
# listed here is shown as the rule wrote it.
MESSAGES: list[tuple[re.Pattern, Any]] = [
    (re.compile(r"must not be (empty|blank)"), _l("Fill this in.")),
    (re.compile(r"must be at most (?P<n>\d+) characters"), _l("At most %(n)s characters.")),
    (re.compile(r"must be a whole number from (?P<low>\d+) to (?P<high>\d+)"), _l("A whole number from %(low)s to %(high)s.")),
    (re.compile(r".* is not one of: .*"), _l("Choose one of the options.")),
    (re.compile(r"name at least one .*"), _l("Choose at least one.")),
    (re.compile(r"is in the future.*"), _l("This date is in the future.")),
    (re.compile(r"is more than ten years ago.*"), _l("This date is more than ten years ago; check the year.")),
    (re.compile(r"is before 1900"), _l("This date is before 1900.")),
    (re.compile(r"must be within a year before and five years after today.*"),
     _l("Choose a date from a year ago to five years ahead.")),
    (re.compile(r"must be exactly 16 digits"), _l("Exactly 16 digits.")),
    (re.compile(r"province code .*|regency code .*|district code .*|serial 0000 .*"),
     _l("This is not a valid number: check the digits.")),
    (re.compile(r"month of birth .*|day of birth .*"), _l("The birth date in this NIK is not a real date.")),
    (re.compile(r"encodes sex .*"), _l("This NIK does not match the sex chosen (women add 40 to the day).")),
    (re.compile(r"encodes birth date .*"), _l("This NIK does not match the birth date.")),
    (re.compile(r"'.*' is not a desa or kelurahan of .*"), _l("Choose a desa or kelurahan of this regency.")),
    (re.compile(r"not a phone number"), _l("Not a phone number.")),
    (re.compile(r"must be a quarter like 2026Q3"), _l("A quarter like 2026Q3.")),
    (re.compile(r"contains .*"), _l("Contains characters that cannot be stored.")),
]


def translated(message: str) -> str:
    for pattern, translation in MESSAGES:
        if match := pattern.fullmatch(message):
            return str(translation) % match.groupdict() if match.groupdict() else str(translation)
    return message


def rule_message(rule: str, message: str) -> str:
    """A broken rule (pilar/cases/errors.RuleBroken) in the reader's language, by its name."""
    rules = {
        "aid_needs_assessment": _("Aid can only be recorded after the needs are assessed."),
        "follow_up_completes_once": _("This follow-up is already completed."),
        "referral_to_other_pillar": _("The case is already with that pillar."),
        "one_pending_referral": _("The case already has a referral waiting for an answer."),
        "referral_answered_once": _("This referral was already answered."),
        "only_receiving_pillar": _("Only the pillar the referral was sent to can answer it."),
        "reopen_only_closed": _("Only a closed case can be reopened."),
        "case_closed": _("The case is closed; only reopening is accepted."),
        "consent_withdrawn": _("The person withdrew consent, the basis of this case."),
        "consent_required": _("This case needs the person's consent on record first."),
    }
    return rules.get(rule, message)
