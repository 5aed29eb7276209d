"""Who is signed in to the pages: the session cookie holds the same signed token the API's bearer
header carries (pilar/cases/signin.py), so a sign-out, a revocation, a changed password, a deactivation
and the idle timeout (pilar/cases/sessions.py) end a page session exactly as they end a token."""

import dataclasses
from typing import TYPE_CHECKING

from flask import current_app, g, request, session

from pilar.api.security import client_address
from pilar.cases.access import Actor
from pilar.cases.errors import NotAuthenticated
from pilar.web import blp, csrf

if TYPE_CHECKING:
    from pilar.bootstrap import Services

# Pages anyone may see: signing in, choosing a language, the stylesheet.
PUBLIC = {"web.sign_in", "web.language", "web.static"}


def services() -> "Services":
    return current_app.extensions["pilar"]


def current_actor() -> Actor:
    return g.actor


def start(token: str) -> None:
    """A new session for a signed-in user: nothing of a session before it is kept but the language
    (no session fixation: Flask-WTF's CSRF token is made anew, too)."""
    language = session.get("lang")
    session.clear()
    session["token"] = token
    if language:
        session["lang"] = language


def end() -> Actor | None:
    """Signs the session's token out (on every worker and server) and forgets it."""
    token = session.pop("token", None)
    session.pop("csrf_token", None)
    if token is None:
        return None
    try:
        return services().signin.sign_out(token)
    except NotAuthenticated:
        return None  # already over: signed out elsewhere, revoked, idle or expired


@blp.before_request
def guard() -> None:
    """Every POST shows its CSRF token; every page but the public ones needs a live session."""
    if request.method == "POST":
        csrf.protect()
    if request.endpoint in PUBLIC:
        return
    token = session.get("token")
    if not token:
        raise NotAuthenticated("sign in to continue", event="no_token")
    try:
        actor = services().signin.actor(token)
    except NotAuthenticated:
        session.pop("token", None)
        raise
    g.actor = dataclasses.replace(actor, client=client_address())
