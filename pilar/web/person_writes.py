"""The person page and its forms: correcting a person's details, recording or withdrawing their
consent, recording their request for erasure and, for the coordinators the policy allows, erasing
them after a confirmation step. Each runs the API's command (pilar/cases/people.py) with the form's
person version (a stale form says so) and Idempotency-Key (a double submit appends once)."""

import secrets
from collections.abc import Callable
from typing import Any
from uuid import UUID

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from pilar.cases import inputs, policy
from pilar.cases.beneficiary import CORRECTABLE_FIELDS
from pilar.cases.errors import DuplicateNik, InvalidInput
from pilar.cases.write_path import WriteOptions, WriteResult
from pilar.web import blp
from pilar.web.forms import Field, Filled, field_errors
from pilar.web.session import current_actor, services
from pilar.web.writes import submit

CORRECTION = [
    Field("changes-nik", _l("NIK"), required=False, hint=_l("16 digits")),
    Field("changes-name", _l("Full name"), required=False),
    Field("changes-birth_date", _l("Date of birth"), "date", required=False),
    Field("changes-sex", _l("Sex"), "select", "sex", required=False),
    Field("changes-desa_code", _l("Desa or kelurahan"), "desa", required=False),
    Field("changes-kk", _l("KK number"), required=False, hint=_l("16 digits, if known")),
    Field("changes-address", _l("Address"), required=False),
    Field("changes-phone", _l("Phone"), required=False),
    Field("reason", _l("Reason for the correction"), "textarea"),
]
FORMS: dict[str, list[Field]] = {
    "correction": CORRECTION,
    "consent": [Field("given_by", _l("Given by (the person, or their guardian)")),
                Field("method", _l("How it was given"), "select", "consent_method"),
                Field("purpose", _l("For what purpose"), "textarea")],
    "withdrawal": [Field("reason", _l("Reason for the withdrawal"), "textarea")],
    "erasure_request": [Field("reason", _l("What the person asked"), "textarea")],
    "erasure": [Field("reason", _l("Reason for the erasure"), "textarea")],
}
DONE = {"correction": _l("The correction was recorded."), "consent": _l("The consent was recorded."),
        "withdrawal": _l("The withdrawal of consent was recorded."),
        "erasure_request": _l("The request for erasure was recorded."),
        "erasure": _l("The person's personal data was erased.")}
# Each form's action in pilar/cases/policy.py (BENEFICIARY_WRITES).
ACTIONS = {"correction": "correct", "consent": "consent", "withdrawal": "consent",
           "erasure_request": "request_erasure", "erasure": "erase"}


def render_person(beneficiary_id: UUID, form: str | None = None, filled: Filled | None = None, status: int = 200):
    app, actor = services().cases, current_actor()
    person = app.get_beneficiary(actor, beneficiary_id)
    scope = app.person_scope(person)
    shown = app.beneficiary_answer(actor, person)
    allowed = {name: person.erased_at is None and policy.write_beneficiary(actor, action, *scope) is None
               for name, action in ACTIONS.items()}
    consent = shown["consent"] or {}
    allowed["consent"] = allowed["consent"] and consent.get("status") != "given"
    allowed["withdrawal"] = allowed["withdrawal"] and consent.get("status") == "given"
    allowed["erasure_request"] = allowed["erasure_request"] and shown["erasure_requested_at"] is None
    # What the reader sees in clear is offered to correct; a masked identifier is left blank (not changed).
    current = {f"changes-{f}": shown[f] for f in CORRECTABLE_FIELDS
               if shown.get(f) is not None and "*" not in str(shown[f])}
    return render_template("person.html", person=shown, allowed=allowed, forms=FORMS, open_form=form,
                           filled=filled or Filled(), current=Filled(values=current), empty=Filled(),
                           villages=villages(), idempotency_key=secrets.token_urlsafe(16)), status


def _person_form(name: str, beneficiary_id: UUID, command: Callable[[dict[str, Any], WriteOptions], WriteResult]):
    stale = _("Someone changed this person's record after you opened this form, so it was not saved. "
              "Look at the page again, then send the form again.")
    try:
        result = submit(FORMS[name], command, stale)
    except DuplicateNik:
        result = Filled(values=request.form, errors={"changes-nik": [_("This NIK is already registered "
                                                                       "to another person.")]})
    if isinstance(result, Filled):
        # A correction's fields are checked as the person will stand too: those problems name the field alone.
        for f in CORRECTABLE_FIELDS:
            if name == "correction" and f in result.errors:
                result.errors.setdefault(f"changes-{f}", []).extend(result.errors.pop(f))
        return render_person(beneficiary_id, name, result, 409 if result.message else 422)
    flash(str(DONE[name]))
    return redirect(url_for("web.person", beneficiary_id=beneficiary_id), 303)


def _command(method: str, **fixed: Any) -> Callable[..., Any]:
    def view(beneficiary_id: UUID):
        def command(args: dict[str, Any], options: WriteOptions) -> WriteResult:
            return getattr(services().cases, method)(current_actor(), beneficiary_id, **fixed, **args,
                                                    options=options)
        return command
    return view


@blp.route("/people/<uuid:beneficiary_id>/corrections", methods=["POST"])
def person_correction(beneficiary_id: UUID):
    def command(args: dict[str, Any], options: WriteOptions) -> WriteResult:
        # Every field left blank is left as it is; none filled in is the rule's to refuse.
        return services().cases.correct_beneficiary(current_actor(), beneficiary_id, changes=args.get("changes", {}),
                                                    reason=args["reason"], options=options)
    return _person_form("correction", beneficiary_id, command)


@blp.route("/people/<uuid:beneficiary_id>/consent", methods=["POST"])
def person_consent(beneficiary_id: UUID):
    return _person_form("consent", beneficiary_id, _command("record_consent")(beneficiary_id))


@blp.route("/people/<uuid:beneficiary_id>/consent/withdrawal", methods=["POST"])
def person_withdrawal(beneficiary_id: UUID):
    return _person_form("withdrawal", beneficiary_id, _command("withdraw_consent")(beneficiary_id))


@blp.route("/people/<uuid:beneficiary_id>/erasure-request", methods=["POST"])
def person_erasure_request(beneficiary_id: UUID):
    return _person_form("erasure_request", beneficiary_id, _command("request_erasure")(beneficiary_id))


@blp.route("/people/<uuid:beneficiary_id>/erasure", methods=["POST"])
def person_erasure(beneficiary_id: UUID):
    """Irreversible, so in two steps: the reason, then a page that says what will be lost and asks
    again (the same Idempotency-Key and version travel on), and only then the erasure."""
    if request.form.get("confirmed") != "yes":
        app, actor = services().cases, current_actor()
        person = app.get_beneficiary(actor, beneficiary_id)
        policy.require(policy.write_beneficiary(actor, "erase", *app.person_scope(person)))
        try:
            inputs.check_reason(request.form.get("reason", ""))
        except InvalidInput as exc:
            return render_person(beneficiary_id, "erasure", Filled(values=request.form,
                                                                   errors=field_errors(exc.errors)), 422)
        return render_template("erase_confirm.html", person=app.beneficiary_answer(actor, person),
                               reason=request.form.get("reason", ""), version=request.form.get("version", ""),
                               key=request.form.get("idempotency_key", ""))
    return _person_form("erasure", beneficiary_id, _command("erase_personal_data")(beneficiary_id))


def villages() -> list[tuple[str, str]]:
    """Every desa and kelurahan, as `Kecamatan — Desa`, sorted."""
    wilayah = services().cases.wilayah
    return sorted(((v.code, f"{wilayah.area(v.code.rsplit('.', 1)[0]).name} — {v.name}") for v in wilayah.villages()),
                  key=lambda pair: pair[1])
