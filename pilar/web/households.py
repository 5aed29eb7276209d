"""Households: everyone registered under one KK, each shown as the person page shows them to the
reader. Looked up by a KK typed in a POST form (a KK never travels in a URL; counted by the same
look-up limit as the NIK search) or from a person's page by their id."""

from uuid import UUID

from flask import render_template, request
from flask_babel import gettext as _

from pilar.api.limits import lookup_limits
from pilar.cases import policy
from pilar.cases.errors import InvalidInput
from pilar.web import blp
from pilar.web.errors import html_refusal
from pilar.web.session import current_actor, services


@blp.route("/households/search")
def household_search():
    policy.require(policy.read_beneficiaries(current_actor()))
    return render_template("household.html", searched=False, members=[], kk_errors=[])


def _household_look_up():
    kk = request.form.get("kk", "").strip()
    try:
        members = services().households.search(current_actor(), kk)
    except InvalidInput:
        return render_template("household.html", searched=False, members=[],
                               kk_errors=[_("Type the 16 digits of the KK number.")]), 422
    return render_template("household.html", searched=True, members=members, kk_errors=[])


blp.add_url_rule("/households/search", "household_look_up", lookup_limits(_household_look_up, html_refusal),
                 methods=["POST"])


@blp.route("/people/<uuid:beneficiary_id>/household")
def person_household(beneficiary_id: UUID):
    members = services().households.of_person(current_actor(), beneficiary_id)
    return render_template("household.html", searched=True, members=members, kk_errors=[])
