"""People: look a person up by NIK (a POST form: a NIK never travels in a URL), register one (a
NIK already registered shows that person, as the reader may see them), a person's page with their
cases across pillars (pilar/cases/presenters.py, masked as pilar/cases/policy.py says), and opening a case."""

import secrets
from uuid import UUID

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from pilar.api.limits import lookup_limits
from pilar.cases import policy
from pilar.cases.errors import DuplicateNik
from pilar.cases.write_path import WriteOptions
from pilar.web import blp
from pilar.web.errors import html_refusal
from pilar.web.forms import Field, Filled
from pilar.web.session import current_actor, services
from pilar.web.writes import submit

PERSON = [
    Field("nik", _l("NIK"), hint=_l("16 digits")),
    Field("name", _l("Full name")),
    Field("birth_date", _l("Date of birth"), "date"),
    Field("sex", _l("Sex"), "select", "sex"),
    Field("desa_code", _l("Desa or kelurahan"), "desa"),
    Field("kk", _l("KK number"), required=False, hint=_l("16 digits, if known")),
    Field("address", _l("Address"), required=False),
    Field("phone", _l("Phone"), required=False),
]
CASE = [
    Field("pillar", _l("Pillar"), "select", "pillar"),
    Field("priority", _l("Priority"), "select", "priority"),
    Field("categories", _l("PPKS categories"), "checkboxes", "ppks"),
    Field("referral-source", _l("Referred by way of"), "select", "source"),
    Field("referral-referred_by", _l("Referred by (who)")),
    Field("referral-reason", _l("Reason for the referral"), "textarea"),
]


def _new_key() -> str:
    return secrets.token_urlsafe(16)


@blp.route("/people/search")
def search():
    policy.require(policy.read_beneficiaries(current_actor()))
    return render_template("search.html", filled=Filled())


def _look_up():
    """A look-up (counted by the API's look-up limit); showing the form above is not one."""
    policy.require(policy.read_beneficiaries(current_actor()))
    nik = request.form.get("nik", "").strip()
    app, actor = services().cases, current_actor()
    person = app.find_beneficiary_by_nik(actor, nik) if nik else None
    if person is None:
        # Not found: the registration form, the NIK already typed in (rendered here, never in a URL).
        found_none = Filled(values=request.form) if nik else Filled(errors={"nik": [_("Fill this in.")]})
        return render_template("search.html", filled=found_none, searched=bool(nik),
                               register=Filled(values=request.form), fields=PERSON, villages=_villages(),
                               idempotency_key=_new_key()), 200 if nik else 422
    # Found: the NIK typed is not shown again; the person's is shown as the policy lets the reader see it.
    return render_template("search.html", filled=Filled(), searched=True, person=app.beneficiary_answer(actor, person))


blp.add_url_rule("/people/search", "look_up", lookup_limits(_look_up, html_refusal), methods=["POST"])


@blp.route("/people/new", methods=["GET", "POST"])
def register():
    policy.require(policy.register_beneficiary(current_actor()))
    if request.method == "GET":
        return render_template("register.html", filled=Filled(), fields=PERSON, villages=_villages(),
                               idempotency_key=_new_key())
    app, actor = services().cases, current_actor()
    try:
        result = submit(PERSON, lambda args, options: app.register_beneficiary(actor, **args, options=options))
    except DuplicateNik as exc:
        existing = app.beneficiary_answer(actor, app.get_beneficiary(actor, exc.existing_id))
        return render_template("register.html", filled=Filled(values=request.form), fields=PERSON,
                               villages=_villages(), idempotency_key=_new_key(), existing=existing), 409
    if isinstance(result, Filled):
        return render_template("register.html", filled=result, fields=PERSON, villages=_villages(),
                               idempotency_key=_new_key()), 422
    flash(_("The person was registered."))
    return redirect(url_for("web.person", beneficiary_id=result.id), 303)


@blp.route("/people/<uuid:beneficiary_id>")
def person(beneficiary_id: UUID):
    app, actor = services().cases, current_actor()
    shown = app.beneficiary_answer(actor, app.get_beneficiary(actor, beneficiary_id))
    return render_template("person.html", person=shown)


@blp.route("/people/<uuid:beneficiary_id>/cases/new", methods=["GET", "POST"])
def open_case(beneficiary_id: UUID):
    app, actor = services().cases, current_actor()
    policy.require(policy.write_cases(actor))
    shown = app.beneficiary_answer(actor, app.get_beneficiary(actor, beneficiary_id))
    if request.method == "GET":
        values = {"pillar": actor.pillar or "", "priority": "normal"}
        return render_template("open_case.html", person=shown, filled=Filled(values=values), fields=CASE,
                               version=shown["version"], idempotency_key=_new_key())
    result = submit(CASE, lambda args, options: app.open_case(
        actor, beneficiary_id=beneficiary_id, **args, options=WriteOptions(idempotency=options.idempotency)))
    if isinstance(result, Filled):
        return render_template("open_case.html", person=shown, filled=result, fields=CASE, version=shown["version"],
                               idempotency_key=_new_key()), 409 if result.message else 422
    flash(_("The case was opened."))
    return redirect(url_for("web.case_page", case_id=result.id), 303)


def _villages() -> list[tuple[str, str]]:
    """Every desa and kelurahan, as `Kecamatan — Desa`, sorted."""
    wilayah = services().cases.wilayah
    return sorted(((v.code, f"{wilayah.area(v.code.rsplit('.', 1)[0]).name} — {v.name}") for v in wilayah.villages()),
                  key=lambda pair: pair[1])
