"""The auditors' pages: a case's and a person's history as a timeline, a case and the views "as of"
a chosen moment, the integrity check, and the access log with its filters. Every page asks the
same services the API's audit endpoints ask (pilar/audit/service.py, pilar/projections/service.py,
pilar/cases/casework.py get_case), so masking and access logging are theirs; other roles get a 403 page."""

from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from uuid import UUID

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from pilar.cases import policy
from pilar.cases.access import Actor
from pilar.cases.clock import JAKARTA, today_in_jakarta
from pilar.cases.errors import InvalidInput, NotFound
from pilar.cases.presenters import case_view
from pilar.store.key_checks import KeyMismatch
from pilar.web import blp
from pilar.web.errors import error_page
from pilar.web.forms import Field, Filled
from pilar.web.history import shown
from pilar.web.session import current_actor, services

HISTORY_PAGE = 50
ACCESS_PAGE = 50
START = [Field("case_id", _l("Case id"), required=False), Field("person_id", _l("Person id"), required=False)]
AS_OF = Field("as_of", _l("As of (WIB)"), "datetime", required=False)
ACCESS = [Field("user", _l("User"), required=False), Field("action", _l("What was read"), "select", required=False),
          Field("case_id", _l("Case id"), required=False), Field("beneficiary_id", _l("Person id"), required=False),
          Field("since", _l("From (date)"), "date", required=False),
          Field("until", _l("To (date, inclusive)"), "date", required=False)]
ACTIONS = {
    "read_case": _l("a case"), "read_case_history": _l("a case's history"), "read_beneficiary": _l("a person"),
    "read_beneficiary_history": _l("a person's history"), "find_beneficiary_by_nik": _l("a look-up by NIK"),
    "list_cases": _l("names on a case list"), "list_privacy_requests": _l("names on the privacy requests"),
    "read_feed": _l("the event feed"), "export": _l("an export"),
}


def _auditor() -> Actor:
    actor = current_actor()
    policy.require(policy.audit(actor))
    return actor


def _moment(text: str) -> datetime:
    """A moment typed in a datetime-local field, read as WIB (the reader's clock)."""
    try:
        moment = datetime.fromisoformat(text)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=JAKARTA)
        return _in_range(moment)
    except ValueError:
        raise ValueError(_("Enter a date and time (year-month-day hour:minute).")) from None


def _in_range(moment: datetime) -> datetime:
    """A moment that is one in UTC and in WIB too (0001-01-01 00:00 WIB is in the year 0 in UTC)."""
    try:
        moment.astimezone(timezone.utc).astimezone(JAKARTA)
    except OverflowError:
        raise ValueError("out of range") from None
    return moment


def _page_number(name: str, default: int = 0) -> int:
    text = request.args.get(name, str(default))
    return int(text) if text.isdigit() and len(text) <= 9 else default


def _paging(after: int, history: dict[str, Any]) -> dict[str, str | None]:
    """Links to the history's earlier and later pages, keeping the page's other parameters."""
    def at(version: int) -> str:
        return url_for(request.endpoint, **request.view_args, **{**request.args.to_dict(), "after": version})

    later = history["next_after_version"]
    return {"earlier": at(max(0, after - HISTORY_PAGE)) if after > 0 else None, "later": at(later) if later else None}


@blp.route("/audit")
def audit_start():
    _auditor()
    filled = Filled(values=request.args)
    for name, endpoint, param in (("case_id", "web.audit_case", "case_id"),
                                  ("person_id", "web.audit_person", "beneficiary_id")):
        if value := request.args.get(name, "").strip():
            try:
                return redirect(url_for(endpoint, **{param: UUID(value)}), 303)
            except ValueError:
                filled.add(name, _("This is not an id (like 6f1c…-…): copy it from a case or person page."))
    return render_template("audit_start.html", fields=START, filled=filled), 400 if filled.errors else 200


@blp.route("/audit/cases/<uuid:case_id>")
def audit_case(case_id: UUID):
    actor = _auditor()
    app = services().cases
    filled = Filled(values=request.args)
    as_of = None
    if text := request.args.get("as_of", "").strip():
        try:
            as_of = _moment(text)
            case = app.get_case(actor, case_id, as_of=as_of)
        except ValueError as exc:
            filled.add("as_of", str(exc))
        except NotFound:
            app.readable_case(actor, case_id)  # an unknown case is a 404; a known one had no state yet
            filled.add("as_of", _("The case did not exist yet at that moment."))
    if as_of is None or filled.errors:
        case = app.get_case(actor, case_id)
    person = app.beneficiary_answer(actor, app.readable_beneficiary(actor, case.beneficiary_id))
    after = _page_number("after")
    history = services().audit.case_history(actor, case_id, after, HISTORY_PAGE)
    page = render_template("audit_case.html", case=case_view(case, today_in_jakarta()), person=person,
                           as_of=as_of if not filled.errors else None, as_of_field=AS_OF, filled=filled,
                           items=[shown(e) for e in history["items"]], **_paging(after, history))
    return page, 400 if filled.errors else 200


@blp.route("/audit/people/<uuid:beneficiary_id>")
def audit_person(beneficiary_id: UUID):
    actor = _auditor()
    app = services().cases
    person = app.beneficiary_answer(actor, app.readable_beneficiary(actor, beneficiary_id))
    after = _page_number("after")
    history = services().audit.beneficiary_history(actor, beneficiary_id, after, HISTORY_PAGE)
    return render_template("audit_person.html", person=person, items=[shown(e) for e in history["items"]],
                           **_paging(after, history))


@blp.route("/audit/views")
def views_as_of():
    actor = _auditor()
    filled = Filled(values=request.args)
    views = None
    if text := request.args.get("as_of", "").strip():
        try:
            views = services().views.as_of(actor, _moment(text))
        except ValueError as exc:
            filled.add("as_of", str(exc))
    return render_template("audit_views.html", as_of_field=AS_OF, filled=filled, views=views), 400 if filled.errors else 200


# The kinds of break verify names (pilar/audit/verification.py), as the page says them.
BREAKS = {
    "edited": _l("An event was changed"), "missing_event": _l("An event is missing"),
    "reordered": _l("Events are out of order"), "stream_gap": _l("A record skips a version"),
    "seal_chain": _l("The chain of seals is broken"), "forged": _l("An event was not written by Pilar"),
    "missing_seals": _l("Seals are missing"), "truncated": _l("The newest events were cut off"),
    "head_mismatch": _l("The published head does not match"), "forged_head": _l("A published head is forged"),
    "quarantined": _l("A damaged event is quarantined"),
    "forged_boundary": _l("The store's record of events written before MACs is forged"),
    "access_log_forged_boundary": _l("The access log's boundary is forged"),
    "access_log_edited": _l("An access-log entry was changed"),
    "access_log_deleted": _l("Access-log entries were deleted"),
    "access_log_inserted": _l("An access-log entry was slipped in"),
    "access_log_reordered": _l("Access-log entries are out of order"),
    "access_log_seal_chain": _l("The access log's chain of seals is broken"),
    "access_log_forged": _l("An access-log entry was not written by Pilar"),
}


@blp.route("/audit/verify", methods=["GET", "POST"])
def audit_verify():
    """Verifying reads every event, so a GET only offers it: the button (POST, with CSRF) runs it."""
    actor = _auditor()
    result = None
    if request.method == "POST":
        try:
            result = services().audit.verify(actor)
        except KeyMismatch:
            return error_page(503, _("This server's audit key is not the store's, so it cannot verify."))
    return render_template("audit_verify.html", result=result, kinds=BREAKS)


@blp.route("/audit/access-log")
def access_log():
    actor = _auditor()
    filled = Filled(values=request.args)
    query: dict[str, Any] = {}
    for name in ("user", "action"):
        if value := request.args.get(name, "").strip():
            query[name] = value[:64]
    for name in ("case_id", "beneficiary_id"):
        if value := request.args.get(name, "").strip():
            try:
                query[name] = UUID(value)
            except ValueError:
                filled.add(name, _("This is not an id (like 6f1c…-…): copy it from a case or person page."))
    for name, days in (("since", 0), ("until", 1)):  # whole days in WIB; "to" includes its day
        if value := request.args.get(name, "").strip():
            try:
                query[name] = _in_range(datetime.combine(date.fromisoformat(value) + timedelta(days=days), time(),
                                                         JAKARTA))
            except (ValueError, OverflowError):
                filled.add(name, _("Enter a date (year-month-day)."))
    page = _page_number("page", 1) or 1
    found = None
    if not filled.errors:
        try:
            found = services().audit.access(actor, username=query.get("user"), case_id=query.get("case_id"),
                                            beneficiary_id=query.get("beneficiary_id"), action=query.get("action"),
                                            since=query.get("since"), until=query.get("until"), page=page,
                                            per_page=ACCESS_PAGE)
        except InvalidInput:
            filled.add("until", _("The end date is before the start date."))
    paging = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("audit_access.html", fields=ACCESS, filled=filled, found=found, page=page,
                           per_page=ACCESS_PAGE, actions=ACTIONS, paging=paging), 400 if filled.errors else 200
