"""Sign-in: a username and password exchanged for a signed, expiring bearer token (cases/signin.py)."""

from flask.views import MethodView

from api.blueprint import Blueprint, services
from api.limits import signin_limits
from api.schemas import Problem, TokenAnswer, TokenRequest

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in", bearer=False)


@blp.route("/token")
class Token(MethodView):
    @blp.arguments(TokenRequest)
    @blp.response(200, TokenAnswer)
    @blp.alt_response(401, schema=Problem, description="Unknown user or wrong password")
    @blp.alt_response(422, schema=Problem, description="Missing or malformed fields")
    @blp.alt_response(429, schema=Problem, description="Too many failed sign-ins for this user or from this "
                                                       "address (`limit`); `Retry-After` says when to try again")
    @blp.alt_response(503, schema=Problem, description="The store, or the rate limits' counters, cannot be reached")
    @signin_limits
    def post(self, credentials):
        """Exchange a username and password for a bearer token"""
        return services().signin.sign_in(credentials["username"], credentials["password"])
