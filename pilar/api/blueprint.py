"""The API's blueprints: flask-smorest's Blueprint with bearer authentication and JSON errors
scoped to it, so that pages beside the API (cookie sessions, HTML errors) are not affected."""

import dataclasses
from typing import TYPE_CHECKING

import flask_smorest
from flask import current_app, g, request
from webargs.flaskparser import FlaskParser, abort

from pilar.api.errors import register_error_handlers
from pilar.api.security import client_address
from pilar.api.schemas.common import Input
from pilar.cases import log_context
from pilar.cases.access import Actor
from pilar.cases.errors import NotAuthenticated

if TYPE_CHECKING:
    from pilar.bootstrap import Services


class Parser(FlaskParser):
    def load_json(self, req, schema):
        try:
            return super().load_json(req, schema)
        except ValueError as exc:  # not a JSON error (webargs answers those) but Python refusing
            # to parse an integer of more than 4,300 digits (its int/str conversion limit)
            abort(400, exc=exc, messages={"json": ["A number in the body has more than 4,300 digits."]})


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def __init__(self, *args, bearer: bool = True, **kwargs):
        """`bearer`: every view of the blueprint needs a bearer token (off for sign-in and health)."""
        super().__init__(*args, **kwargs)
        if bearer:
            self.before_request(authenticate_request)
        register_error_handlers(self)

    # webargs builds a new instance of a schema *class* on every request, which costs a write
    # a tenth of a millisecond; marshmallow schemas keep no state between loads, so one serves all.
    def arguments(self, schema, **kwargs):
        schema = schema() if isinstance(schema, type) else schema
        if not isinstance(schema, Input):  # Input refuses NUL characters in every field
            raise TypeError(f"{type(schema).__name__}: a request's schema derives from api.schemas.common.Input")
        return super().arguments(schema, **kwargs)


def services() -> "Services":
    return current_app.extensions["pilar"]


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send Authorization: Bearer <token> (get one from POST /api/v1/auth/token)",
                               event="no_token")
    return token.strip()


def authenticate_request() -> None:
    """Resolves the bearer token to the Actor behind it (with the client's address), in g.actor."""
    token = bearer_token()
    g.actor = dataclasses.replace(services().signin.actor(token.strip()), client=client_address())
    log_context.note(user=g.actor.username)


def current_actor() -> Actor:
    return g.actor
