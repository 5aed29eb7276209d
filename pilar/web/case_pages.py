"""The case worker's lists ("my cases", "my pillar's cases", with the list API's filters) and the
case page: the case, its person as the policy lets the reader see them, its timeline and the
forms its state allows (pilar/web/case_writes.py)."""

import secrets
from typing import Any
from uuid import UUID

from flask import render_template, request
from flask_babel import gettext as _

from pilar.cases import clock, policy, vocab
from pilar.cases.presenters import case_view
from pilar.projections.queries import CaseFilter
from pilar.web import blp, labels
from pilar.web.case_forms import FORMS
from pilar.web.errors import error_page
from pilar.web.forms import Filled
from pilar.web.session import current_actor, services

PER_PAGE = 20
TIMELINE = 100  # the latest events of a case (a long case keeps its page light; its history has the rest)


@blp.route("/cases")
def my_cases():
    return _case_list(mine=True)


@blp.route("/cases/pillar")
def pillar_cases():
    return _case_list(mine=False)


def _case_list(*, mine: bool):
    actor = current_actor()
    filters, problem = _filters(request.args)
    if problem:
        return error_page(400, problem)
    where = CaseFilter(worker=actor.username if mine else None, status=filters["status"],
                       kecamatan=filters["kecamatan"], desa=filters["desa"], overdue=filters["overdue"],
                       desil_stale=filters["desil_stale"])
    _, listed = services().views.cases(actor, where, filters["page"], PER_PAGE)
    rows = [_row(item) for item in listed["items"]]
    if rows and policy.names_in_lists(actor):
        names = services().cases.names_of(actor, [UUID(r["beneficiary_id"]) for r in rows], "list_cases")
        for row in rows:
            row["name"] = names.get(UUID(row["beneficiary_id"]))
    # The filters offer only the kecamatan (and their desa) the reader's scope covers.
    scope = policy.visible_kecamatan(actor)
    wilayah = services().cases.wilayah
    kecamatans = [k for k in wilayah.kecamatans() if scope is None or k.code in scope]
    villages = sorted((v for v in wilayah.villages() if scope is None or v.code.rsplit(".", 1)[0] in scope),
                      key=lambda v: v.name)
    return render_template("case_list.html", mine=mine, rows=rows, listed=listed, filters=filters,
                           per_page=PER_PAGE, kecamatans=kecamatans, villages=villages)


def _filters(args) -> tuple[dict[str, Any], str | None]:
    """The list's filters from the query string; a value that is none of its choices is named."""
    wilayah = services().cases.wilayah
    found: dict[str, Any] = {"status": args.get("status") or None, "kecamatan": args.get("kecamatan") or None,
                             "desa": args.get("desa") or None, "overdue": True if args.get("overdue") else None,
                             "desil_stale": True if args.get("desil_stale") else None}
    if found["status"] is not None and found["status"] not in vocab.CASE_STATUSES:
        return found, _("The status filter is none of the statuses.")
    if found["kecamatan"] is not None and not wilayah.is_kecamatan(found["kecamatan"]):
        return found, _("The kecamatan filter names no kecamatan of this regency.")
    if found["desa"] is not None and wilayah.village(found["desa"]) is None:
        return found, _("The desa filter names no desa of this regency.")
    page = args.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 10_000:
        return found, _("The page must be a number from 1 to 10000.")
    found["page"] = int(page)
    return found, None


def _row(item: dict[str, Any]) -> dict[str, Any]:
    wilayah = services().cases.wilayah
    desa, kecamatan = wilayah.area(item["desa_code"]), wilayah.area(item["kecamatan_code"])
    return {**item, "name": None, "desa_name": desa.name if desa else item["desa_code"],
            "kecamatan_name": kecamatan.name if kecamatan else item["kecamatan_code"]}


@blp.route("/cases/<uuid:case_id>")
def case_page(case_id: UUID):
    return render_case(case_id)


def render_case(case_id: UUID, form: str | None = None, filled: Filled | None = None, status: int = 200):
    """The case page; `form` with `filled`: one form sent back with what was typed and its problems."""
    app = services().cases
    who = current_actor()
    case = app.get_case(who, case_id)
    today = clock.today_in_jakarta()
    view = case_view(case, today, app.person_desil(case, today, services().settings.desil_max_age_periods))
    person = app.beneficiary_answer(who, app.readable_beneficiary(who, case.beneficiary_id))
    history = services().audit.case_history(who, case_id, max(0, case.version - TIMELINE), TIMELINE)["items"]
    wilayah = app.wilayah
    desa, kecamatan = wilayah.area(case.desa_code), wilayah.area(case.kecamatan_code)
    pending = case.pending_referral
    page = render_template(
        "case.html", case=view, person=person, timeline=list(reversed(history)),
        earlier=max(0, case.version - TIMELINE),
        desa_name=desa.name if desa else case.desa_code, kecamatan_name=kecamatan.name if kecamatan else "",
        writable=policy.write_case(who, case) is None,
        # The receiving pillar answers (the sending one may read the case, but not answer for the other).
        answers_referral=pending is not None and policy.answer_referral(who, case, pending["id"]) is None
        and policy.covers(who, pending["to_pillar"]),
        open_follow_ups=[f for f in case.follow_ups if f["completed_at"] is None],
        desil_max_age=services().settings.desil_max_age_periods,
        open_form=form, filled=filled or Filled(), empty=Filled(), forms=FORMS, idempotency_key=secrets.token_urlsafe(16),
    )
    return page, status


@blp.app_template_global()
def area_name(code: str | None) -> str:
    """A kecamatan's or desa's name (pilar/cases/wilayah.py), or its code if the regency has none."""
    area = services().cases.wilayah.area(code) if code else None
    return area.name if area else (code or "–")


@blp.app_template_global()
def writes_cases() -> bool:
    """Whether the signed-in user may open and write cases (links to forms they could not send are not shown)."""
    return policy.write_cases(current_actor()) is None


@blp.app_template_global()
def label(kind: str, code: str | None) -> str:
    return labels.label(kind, code)
