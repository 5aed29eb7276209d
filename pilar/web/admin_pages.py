"""The admins' pages: every account, a new one, and one account with a form for each change the
admin API offers (role and pillars, kecamatan, personal data in clear, password reset,
deactivation and reactivation, revoking sessions). Each form runs the same command as
/api/v1/users (pilar/cases/users.py: its rules, e.g. one pillar for a worker, the last active admin,
the password rules) with the account version it was shown at (a stale form, or a second submit,
saves nothing and says so); other roles get a 403 page and nothing is written."""

import logging
from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from pilar.api.security import security_event
from pilar.api.users import user_view
from pilar.cases import policy
from pilar.cases.access import Actor
from pilar.cases.errors import InvalidInput, RuleBroken, StaleVersion
from pilar.web import blp
from pilar.web.forms import Field, Filled, field_errors, rule_message
from pilar.web.session import current_actor, services


def _kecamatan() -> list[tuple[str, str]]:
    return [(k.code, k.name) for k in services().cases.wilayah.kecamatans()]


def _pii_choices() -> list[tuple[str, str]]:
    return [("role", _("As the role decides")), ("yes", _("In clear")),
            ("no", _("Masked"))]


ROLE = Field("role", _l("Role"), "select", "role")
PILLARS = Field("pillars", _l("Pillar(s)"), "checkboxes", "pillar", required=False,
                hint=_l("A worker: exactly one. A coordinator: one or several, or none for every pillar (Dinas "
                        "Sosial). Auditors and admins: none."))
KECAMATAN = Field("kecamatan", _l("Kecamatan served"), "checkboxes", required=False, offered=_kecamatan,
                  hint=_l("None ticked: every kecamatan."))
PII = Field("pii", _l("NIK, KK, phone and address"), "select", offered=_pii_choices,
            hint=_l("By role, auditors read them masked and everyone else in clear."))
PASSWORD = Field("password", _l("Password"), "password", hint=_l("At least 12 characters, not a common password."))
FORMS: dict[str, list[Field]] = {
    "new": [Field("username", _l("Username"), hint=_l("Letters, digits, '.', '_' or '-'")), ROLE, PILLARS, KECAMATAN,
            PII, PASSWORD],
    "role": [ROLE, PILLARS], "scope": [KECAMATAN], "pii": [PII], "password": [PASSWORD],
    "deactivation": [], "reactivation": [], "revocation": [],
}
DONE = {
    "role": _l("The role was changed."), "scope": _l("The kecamatan were changed."),
    "pii": _l("Access to personal data was changed."), "password": _l("The password was reset; the user's sessions "
                                                                      "have ended."),
    "deactivation": _l("The user was deactivated."), "reactivation": _l("The user was reactivated."),
    "revocation": _l("Every session of the user has ended."),
}
PII_VALUES = {"role": None, "yes": True, "no": False}


def _admin() -> Actor:
    actor = current_actor()
    policy.require(policy.manage_users(actor))
    return actor


def _pillars() -> list[str] | None:
    chosen = request.form.getlist("pillars")
    return chosen or None  # none ticked: every pillar (a coordinator of Dinas Sosial)


def _kecamatan_chosen() -> tuple[str, ...]:
    return tuple(request.form.getlist("kecamatan"))


def _pii() -> bool | None:
    chosen = request.form.get("pii", "")
    if chosen not in PII_VALUES:
        raise InvalidInput.one("pii", f"{chosen!r} is not one of: role, yes, no")
    return PII_VALUES[chosen]


def _problems(exc: InvalidInput) -> dict[str, list[str]]:
    """The command's problems by form field; one pillar or several are both the form's `pillars`."""
    found = field_errors(exc.errors)
    if "pillar" in found:
        found.setdefault("pillars", []).extend(found.pop("pillar"))
    return found


@blp.route("/admin/users")
def users():
    accounts = [user_view(u) for u in services().cases.list_users(_admin())]
    return render_template("users.html", accounts=accounts)


@blp.route("/admin/users/new", methods=["GET", "POST"])
def new_user():
    actor = _admin()
    if request.method == "GET":
        return render_template("user_new.html", fields=FORMS["new"], filled=Filled(values={"pii": "role"}))
    filled = Filled(values=request.form)
    username = request.form.get("username", "").strip()
    try:
        services().cases.add_user(actor, username, request.form.get("role", ""), _pillars(),
                                  request.form.get("password", ""), kecamatan=_kecamatan_chosen(), pii=_pii())
    except InvalidInput as exc:
        filled.errors.update(_problems(exc))
    except RuleBroken as exc:
        filled.add("username", rule_message(exc.rule, exc.message))
    if filled.errors:
        return render_template("user_new.html", fields=FORMS["new"], filled=filled), 422
    security_event("user_changed", level=logging.INFO, account=username, change="added")
    flash(_("The user %(username)s was added.", username=username))
    return redirect(url_for("web.user", username=username), 303)


@blp.route("/admin/users/<string:username>")
def user(username: str):
    return _user_page(username)


def _user_page(username: str, form: str | None = None, filled: Filled | None = None, status: int = 200):
    account = user_view(services().cases.get_user(_admin(), username))
    values = {"role": account["role"], "pillars": account["pillars"], "kecamatan": account["kecamatan"],
              "pii": {None: "role", True: "yes", False: "no"}[account["pii_set"]]}
    page = render_template("user.html", account=account, forms=FORMS, open_form=form, filled=filled or Filled(),
                           current=Filled(values=_multi(values)), myself=account["username"] == current_actor().username)
    return page, status


def _multi(values: dict[str, Any]) -> MultiDict:
    return MultiDict([(k, v) for k, value in values.items() for v in (value if isinstance(value, list) else [value])])


def _change(name: str, rule: str, run: Callable[[Actor, str, int | None], Any]) -> None:
    """POST /admin/users/<username>`rule` runs `run(actor, username, the form's account version)`."""

    def view(username: str):
        actor = _admin()
        version = request.form.get("version", "")
        if not version.isdigit() or len(version) > 9:
            raise BadRequest("the form's account version is missing or not a number: reload the page")
        filled = Filled(values=request.form)
        try:
            run(actor, username, int(version))
        except InvalidInput as exc:
            filled.errors.update(_problems(exc))
        except StaleVersion:
            filled.message = _("Someone changed this account after you opened this form, so it was not saved. "
                               "Look at the account, then send the form again.")
        except RuleBroken as exc:
            filled.message = rule_message(exc.rule, exc.message)
        if filled.errors or filled.message:
            return _user_page(username, name, filled, 409 if filled.message else 422)
        security_event("user_changed", level=logging.INFO, account=username, change=name)
        flash(str(DONE[name]))
        return redirect(url_for("web.user", username=username), 303)

    blp.add_url_rule(f"/admin/users/<string:username>{rule}", f"user_{name}", view, methods=["POST"])


def _cases():
    return services().cases


_change("role", "/role", lambda a, u, v: _cases().change_role(a, u, request.form.get("role", ""), _pillars(),
                                                                expected_version=v))
_change("scope", "/scope", lambda a, u, v: _cases().change_scope(a, u, _kecamatan_chosen(), expected_version=v))
_change("pii", "/pii", lambda a, u, v: _cases().set_pii(a, u, _pii(), expected_version=v))
_change("password", "/password", lambda a, u, v: _cases().reset_password(a, u, request.form.get("password", ""),
                                                                          expected_version=v))
_change("deactivation", "/deactivation", lambda a, u, v: _cases().deactivate_user(a, u, expected_version=v))
_change("reactivation", "/reactivation", lambda a, u, v: _cases().reactivate_user(a, u, expected_version=v))
_change("revocation", "/sessions/revocation", lambda a, u, v: _cases().revoke_sessions(a, u, expected_version=v))
