"""The supervisor's pages: the workload dashboard (one pillar, or every pillar of the reader's
scope) and the rakor report, each table also as CSV. Scope is the report service's (asked of
pilar/cases/policy.py): a pillar or kecamatan named in the address outside it is a 403 page."""

from datetime import date
from typing import Any

from flask import Response, render_template, request, url_for
from flask_babel import gettext as _

from pilar.cases import clock, policy, vocab
from pilar.projections.reports import MAX_PERIOD, default_period
from pilar.web import blp, labels
from pilar.web.errors import error_page
from pilar.web.report_tables import dashboard_tables, rakor_tables
from pilar.web.session import current_actor, services


class BadQuery(Exception):
    pass


def _query(args, *, pillar: bool) -> dict[str, Any]:
    """The pillar ("" or absent: every pillar of the scope), kecamatan and period asked for."""
    policy.require(policy.read_reports(current_actor()))  # a worker or admin is refused before any question of input
    wilayah = services().cases.wilayah
    found: dict[str, Any] = {"kecamatan": args.get("kecamatan") or None}
    if pillar:
        found["pillar"] = args.get("pillar") or None
        if found["pillar"] is not None and found["pillar"] not in vocab.PILLARS:
            raise BadQuery(_("The pillar filter names no pillar."))
    if found["kecamatan"] is not None and not wilayah.is_kecamatan(found["kecamatan"]):
        raise BadQuery(_("The kecamatan filter names no kecamatan of this regency."))
    start, end = default_period(clock.today_in_jakarta())
    for name, default in (("from", start), ("to", end)):
        text = args.get(name) or ""
        try:
            found[name] = date.fromisoformat(text) if text else default
        except ValueError:
            raise BadQuery(_("The date %(name)s must be a date such as 2026-11-29.", name=name)) from None
    if found["from"] > found["to"]:
        raise BadQuery(_("The period must start on or before its last day."))
    if found["to"] - found["from"] > MAX_PERIOD:
        raise BadQuery(_("The period may be at most two years long."))
    return found


def _kecamatan_choices() -> list:
    scope = policy.visible_kecamatan(current_actor())
    return [k for k in services().cases.wilayah.kecamatans() if scope is None or k.code in scope]


def _dashboard(args):
    query = _query(args, pillar=True)
    actor = current_actor()
    answer = services().reports.dashboard(actor, query["pillar"], query["kecamatan"], query["from"], query["to"])
    return query, answer, dashboard_tables(answer, _area_name)


def _rakor(args):
    query = _query(args, pillar=False)
    answer = services().reports.rakor(current_actor(), query["kecamatan"], query["from"], query["to"])
    return query, answer, rakor_tables(answer)


def _area_name(code: str) -> str:
    area = services().cases.wilayah.area(code)
    return area.name if area else code


@blp.route("/dashboard")
def dashboard():
    try:
        query, answer, tables = _dashboard(request.args)
    except BadQuery as exc:
        return error_page(400, str(exc))
    pillars = policy.visible_pillars(current_actor())
    rakor_link = url_for("web.rakor", **{k: v for k, v in request.args.items() if k != "pillar"})
    return render_template("dashboard.html", query=query, answer=answer, tables=tables, pillars=pillars,
                           kecamatans=_kecamatan_choices(), rakor_link=rakor_link)


@blp.route("/rakor")
def rakor():
    try:
        query, answer, tables = _rakor(request.args)
    except BadQuery as exc:
        return error_page(400, str(exc))
    return render_template("rakor.html", query=query, answer=answer, tables=tables, kecamatans=_kecamatan_choices())


@blp.route("/dashboard/<string:table>.csv")
def dashboard_csv(table: str):
    return _csv("dashboard", _dashboard, table)


@blp.route("/rakor/<string:table>.csv")
def rakor_csv(table: str):
    return _csv("rakor", _rakor, table)


def _csv(page: str, build, key: str) -> Response:
    try:
        query, _answer, tables = build(request.args)
    except BadQuery as exc:
        return error_page(400, str(exc))
    chosen = next((t for t in tables if t.key == key), None)
    if chosen is None:
        return error_page(404, _("This report has no such table."))
    name = f"pilar-{page}-{key}-{query['from'].isoformat()}-{query['to'].isoformat()}.csv"
    return Response(chosen.csv().encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blp.app_template_filter("pillar_label")
def pillar_label(code: str) -> str:
    return labels.label("pillar", code)


@blp.app_template_filter("area_label")
def area_label(code: str) -> str:
    return _area_name(code)
