"""Where each role starts after signing in and the menu it is shown: only the pages its role may use
(pilar/cases/policy.py decides; a link to a page that would answer 403 is never offered)."""

from flask import redirect, url_for
from flask_babel import lazy_gettext as _l

from pilar.cases import policy
from pilar.cases.access import Actor
from pilar.web import blp
from pilar.web.session import current_actor


def start_page(actor: Actor) -> str:
    if policy.manage_users(actor) is None:
        return url_for("web.users")
    if policy.audit(actor) is None:
        return url_for("web.audit_start")
    return url_for("web.my_cases")


def _links(actor: Actor) -> list[tuple[str, object]]:
    links: list[tuple[str, object]] = []
    if policy.write_cases(actor) is None:
        links.append((url_for("web.my_cases"), _l("My cases")))
    if policy.read_beneficiaries(actor) is None:
        links += [(url_for("web.pillar_cases"), _l("My pillar's cases") if policy.audit(actor) else _l("Cases")),
                  (url_for("web.search"), _l("Find a person")), (url_for("web.household_search"), _l("Household"))]
    if policy.read_reports(actor) is None:
        links += [(url_for("web.dashboard"), _l("Dashboard")), (url_for("web.rakor"), _l("Rakor report"))]
    if policy.audit(actor) is None:
        links += [(url_for("web.audit_start"), _l("Audit")), (url_for("web.audit_verify"), _l("Integrity")),
                  (url_for("web.access_log"), _l("Access log")), (url_for("web.views_as_of"), _l("Views as of"))]
    if policy.manage_users(actor) is None:
        links.append((url_for("web.users"), _l("Users")))
    return links


@blp.app_template_global()
def menu() -> list[tuple[str, object]]:
    """The signed-in user's menu: (url, label)."""
    return _links(current_actor())


@blp.app_template_global()
def audits() -> bool:
    """Whether the signed-in user may open the auditors' pages (a case and a person page link to them)."""
    return policy.audit(current_actor()) is None


@blp.route("/")
def home():
    return redirect(start_page(current_actor()), 303)
