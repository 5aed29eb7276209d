"""Signing in and out of the pages, and the language switch. Sign-in is the API's (pilar/cases/signin.py)
with the API's rate limits on the same counters (pilar/api/limits.py)."""

import logging

from flask import redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from pilar.api.limits import signin_limits
from pilar.api.security import security_event
from pilar.cases.errors import NotAuthenticated
from pilar.web import blp, i18n
from pilar.web.errors import html_refusal, safe_next
from pilar.web.session import end, services, start


@blp.route("/")
def home():
    return redirect(url_for("web.my_cases"), 303)


def _sign_in_view():
    if request.method == "GET":
        return render_template("sign_in.html", username="", next=request.args.get("next", ""))
    username = request.form.get("username", "")
    try:
        answer = services().signin.sign_in(username, request.form.get("password", ""))
    except NotAuthenticated as exc:
        security_event(exc.event, exc.username)
        page = render_template("sign_in.html", username=username, next=request.form.get("next", ""),
                               error=_("Unknown user or wrong password."))
        return page, 401  # a 401 is what the failed-sign-in limits count
    start(answer["token"])
    security_event("signed_in", username, level=logging.INFO)
    return redirect(safe_next(request.form.get("next")), 303)


blp.add_url_rule("/sign-in", "sign_in", signin_limits(_sign_in_view, html_refusal), methods=["GET", "POST"])


@blp.route("/sign-out", methods=["POST"])
def sign_out():
    actor = end()
    if actor is not None:
        security_event("signed_out", actor.username, level=logging.INFO)
    return redirect(url_for("web.sign_in"), 303)


@blp.route("/language", methods=["POST"])
def language():
    chosen = request.form.get("lang")
    if chosen in i18n.LANGUAGES:
        session["lang"] = chosen
    return redirect(safe_next(request.form.get("next")), 303)
