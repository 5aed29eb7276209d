"""User administration (admins only): accounts, their role, pillar and kecamatan scope, whether
they read personal data in clear, passwords, deactivation and revoking every session. Each change
is an event on the account naming the admin (pilar/cases/users.py) and a line in the security log."""

import logging
from collections.abc import Callable

from flask.views import MethodView

from pilar.api.blueprint import Blueprint, current_actor, services
from pilar.api.documented import body_and_answer, errors
from pilar.api.schemas import Empty
from pilar.api.schemas.users import PasswordIn, PiiIn, RoleIn, ScopeIn, UserIn, UserList, UserOut
from pilar.api.security import security_event
from pilar.cases.account import UserAccount

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="User administration (admins)")

ERRORS = {
    400: "Malformed JSON", 401: "No valid bearer token", 403: "Only admins manage users", 404: "No such user",
    409: "The change breaks a rule (see `rule`: e.g. username_unique, deactivate_once, not_yourself, last_admin)",
    413: "The body is too large", 422: "Invalid fields, each named in `errors`",
}


def user_view(user: UserAccount) -> dict:
    """An account as admins see it: never its password hash."""
    return {"username": user.username, "role": user.role, "pillar": user.pillar, "pillars": list(user.pillars),
            "kecamatan": list(user.kecamatan),
            "pii": user.reads_pii, "pii_set": user.pii, "active": user.active, "version": user.version}


def _changed(change: str, username: str, command: Callable[..., UserAccount], *args) -> dict:
    user = command(current_actor(), username, *args)
    security_event("user_changed", level=logging.INFO, account=username, change=change)
    return user_view(user)


@blp.route("")
class Users(MethodView):
    @blp.response(200, UserList)
    @errors(blp, ERRORS, 401, 403)
    def get(self):
        """Every account, with its role, pillar, kecamatan scope, personal-data access and state"""
        users = [user_view(user) for user in services().cases.list_users(current_actor())]
        return {"items": users, "total": len(users)}

    @blp.arguments(UserIn)
    @blp.response(201, UserOut)
    @errors(blp, ERRORS, 400, 401, 403, 409, 413, 422)
    def post(self, body):
        """Add a user"""
        cases = services().cases
        cases.add_user(current_actor(), body["username"], body["role"], body["pillars"], body["password"],
                       kecamatan=tuple(body["kecamatan"]), pii=body["pii"])
        security_event("user_changed", level=logging.INFO, account=body["username"], change="added")
        return user_view(cases.get_user(current_actor(), body["username"]))


@blp.route("/<string:username>")
class User(MethodView):
    @blp.response(200, UserOut)
    @errors(blp, ERRORS, 401, 403, 404)
    def get(self, username: str):
        """One account"""
        return user_view(services().cases.get_user(current_actor(), username))


def _change(body_schema):
    """The decorators every change of an account shares: its body, its answer, its documented errors."""
    return body_and_answer(blp, body_schema, UserOut, ERRORS, 400, 401, 403, 404, 409, 413, 422)


@blp.route("/<string:username>/role")
class Role(MethodView):
    @_change(RoleIn)
    def post(self, body, username: str):
        """Change the user's role and pillar(s): a worker serves one pillar, a coordinator one, several or every
        pillar, auditors and admins none"""
        return _changed("role", username, services().cases.change_role, body["role"], body["pillars"])


@blp.route("/<string:username>/scope")
class Scope(MethodView):
    @_change(ScopeIn)
    def post(self, body, username: str):
        """Change the kecamatan the user serves (empty: every kecamatan)"""
        return _changed("scope", username, services().cases.change_scope, tuple(body["kecamatan"]))


@blp.route("/<string:username>/pii")
class PiiAccess(MethodView):
    @_change(PiiIn)
    def post(self, body, username: str):
        """Set whether the user reads personal identifiers in clear (null: the role's default)"""
        return _changed("pii", username, services().cases.set_pii, body["pii"])


@blp.route("/<string:username>/password")
class Password(MethodView):
    @_change(PasswordIn)
    def post(self, body, username: str):
        """Reset the user's password; every token issued before stops working"""
        return _changed("password", username, services().cases.reset_password, body["password"])


@blp.route("/<string:username>/deactivation")
class Deactivation(MethodView):
    @_change(Empty)
    def post(self, body, username: str):
        """Deactivate the user: they cannot sign in, and every token of theirs stops working"""
        return _changed("deactivated", username, services().cases.deactivate_user)


@blp.route("/<string:username>/reactivation")
class Reactivation(MethodView):
    @_change(Empty)
    def post(self, body, username: str):
        """Reactivate a deactivated user (their tokens from before stay retired)"""
        return _changed("reactivated", username, services().cases.reactivate_user)


@blp.route("/<string:username>/sessions/revocation")
class SessionsRevocation(MethodView):
    @_change(Empty)
    def post(self, body, username: str):
        """Revoke every session of the user: every token issued so far stops working"""
        return _changed("sessions_revoked", username, services().cases.revoke_sessions)
