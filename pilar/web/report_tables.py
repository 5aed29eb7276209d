"""The dashboard's and the rakor report's tables, each with its chart, in the reader's language:
codes as labels (pilar/web/labels.py), kecamatan by name, months and rupiah in Indonesian form."""

from datetime import date
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _

from pilar.web import charts
from pilar.web.i18n import rupiah
from pilar.web.labels import label
from pilar.web.tables import Column, Table


def pillar(code: str) -> str:
    """A pillar as a report names it, short enough for a chart on a phone: the abbreviation its
    label ends with ("TKSK", "FK-LKSA"), or the label before a long one ("SDM Pendamping PKH")."""
    full = label("pillar", code)
    head, _sep, tail = full.partition(" (")
    tail = tail.rstrip(")")
    return tail if tail and len(tail) <= 10 else head


def _month(text: str) -> str:
    return format_date(date.fromisoformat(f"{text}-01"), "MMM y")


def _wait(low: int, high: int | None) -> str:
    return _("%(low)d days or more", low=low) if high is None else _("%(low)d–%(high)d days", low=low, high=high)


def dashboard_tables(answer: dict[str, Any], area_name) -> list[Table]:
    tables = [Table("summary", _("In short"), [Column(_("Figure")), Column(_("Value"), "days")], [
        [_("Open cases"), answer["open_cases"]],
        [_("Overdue follow-ups"), answer["overdue_follow_ups"]],
        [_("Median days from referral to first assessment"), answer["median_days_to_assessment"]]])]
    status = [[label("status", code), count] for code, count in answer["open_by_status"].items()]
    tables.append(Table("status", _("Open cases by status"), [Column(_("Status")), Column(_("Open cases"), "count")],
                        status, footer=[_("Total"), answer["open_cases"]]))
    kecamatan = sorted(([area_name(code), count] for code, count in answer["open_by_kecamatan"].items()),
                       key=lambda row: (-row[1], row[0]))
    tables.append(Table("kecamatan", _("Open cases by kecamatan"),
                        [Column(_("Kecamatan")), Column(_("Open cases"), "count")], kecamatan))
    months = [[_month(month), opened, closed] for month, opened, closed in answer["monthly"]]
    tables.append(Table("months", _("Cases opened and closed per month (last 12 months)"),
                        [Column(_("Month")), Column(_("Opened"), "count"), Column(_("Closed"), "count")], months))
    aid = [[label("atensi", code), count, value] for code, (count, value) in answer["aid_by_component"]]
    tables.append(Table("aid", _("Aid given by component in the period"),
                        [Column(_("Component")), Column(_("Aid given"), "count"), Column(_("Value"), "rupiah")], aid,
                        footer=[_("Total"), sum(r[1] for r in aid), sum(r[2] for r in aid)] if aid else []))
    pending = [[pillar(sender), pillar(receiver), count, longest]
               for sender, receiver, count, longest in answer["pending_referrals"]]
    tables.append(Table("referrals", _("Pending referrals and how long they wait"),
                        [Column(_("From pillar")), Column(_("To pillar")), Column(_("Pending"), "count"),
                         Column(_("Longest wait (days)"), "days")], pending))
    waits = [[_wait(low, high), count] for low, high, count in answer["pending_waits"]]
    tables.append(Table("waits", _("Pending referrals by days waited"),
                        [Column(_("Waiting")), Column(_("Pending"), "count")], waits))
    _draw_dashboard(tables)
    return tables


def _draw_dashboard(tables: list[Table]) -> None:
    _summary, status, kecamatan, months, aid, referrals, waits = tables
    none = _("Nothing in this scope.")
    status.chart = charts.bars("status", status.title, _("Bars: open cases for each status."),
                               [(r[0], r[1]) for r in status.rows], empty=none)
    kecamatan.chart = charts.bars("kecamatan", kecamatan.title, _("Bars: open cases in each kecamatan, most first."),
                                  [(r[0], r[1]) for r in kecamatan.rows], empty=none)
    months.chart = charts.columns("months", months.title, _("Columns per month, oldest first: cases opened and "
                                                            "cases closed."),
                                  [(r[0].split(" ")[0], r[1:]) for r in months.rows], [_("Opened"), _("Closed")])
    aid.chart = charts.bars("aid", aid.title, _("Bars: rupiah given for each component; the table also counts "
                                                "the aid entries."), [(r[0], r[2]) for r in aid.rows], rupiah, none)
    referrals.chart = None  # its numbers are drawn by days waited, below
    waits.chart = charts.bars("waits", waits.title, _("Bars: pending referrals by how many days they have waited."),
                              [(r[0], r[1]) for r in waits.rows], empty=none)


def rakor_tables(answer: dict[str, Any]) -> list[Table]:
    served = [[" + ".join(pillar(p) for p in pillars), count] for pillars, count in answer["served_by"]]
    tables = [Table("served", _("People served by more than one pillar"),
                    [Column(_("Pillars")), Column(_("People"), "count")], served,
                    footer=[_("Total"), answer["served_count"]] if served else [])]
    if answer["names_shown"]:
        tables.append(Table("people", _("Who they are"), [Column(_("Name")), Column(_("Pillars"))],
                            [[name if name is not None else _("(erased)"),
                              " + ".join(pillar(p) for p in pillars)] for name, pillars in answer["people"]]))
    referrals = [[pillar(a), pillar(b), accepted, declined, pending, accepted + declined + pending]
                 for a, b, accepted, declined, pending in answer["referrals"]]
    tables.append(Table("referrals", _("Referrals between pillars and their outcome"),
                        [Column(_("From pillar")), Column(_("To pillar")), Column(_("Accepted"), "count"),
                         Column(_("Declined"), "count"), Column(_("Pending"), "count"), Column(_("Total"), "count")],
                        referrals))
    aid = [[pillar(p), count, value] for p, count, value in answer["aid_by_pillar"]]
    tables.append(Table("aid", _("Aid per pillar in the period"),
                        [Column(_("Pillar")), Column(_("Aid given"), "count"), Column(_("Value"), "rupiah")], aid,
                        footer=[_("Total"), sum(r[1] for r in aid), sum(r[2] for r in aid)]))
    none = _("Nothing in this scope.")
    tables[0].chart = charts.bars("served", tables[0].title, _("Bars: people for each combination of pillars."),
                                  [(r[0], r[1]) for r in served], empty=none)
    tables[-2].chart = charts.bars("rakor-referrals", tables[-2].title,
                                   _("Bars: referrals sent from one pillar to another in the period."),
                                   [(f"{r[0]} → {r[1]}", r[5]) for r in referrals], empty=none)
    tables[-1].chart = charts.bars("rakor-aid", tables[-1].title, _("Bars: rupiah given by each pillar."),
                                   [(r[0], r[2]) for r in aid], rupiah, none)
    return tables
