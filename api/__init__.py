"""The Flask app factory: the one composition root of the HTTP side."""

from flask import Blueprint as FlaskBlueprint
from flask import Flask
from flask.sessions import SessionInterface
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path

from api import audit, auth, beneficiaries, cases, health, workloads
from api.errors import register_error_handlers
from api.metrics import init_metrics
from cases.application import PilarApplication
from cases.settings import Settings, build_application
from cases.store import head_sql
from audit.service import AuditService
from projections.queries import WorkloadQueries
from projections.service import WorkloadService

TOKEN_MAX_AGE = 12 * 3600


class NoCookieSessions(SessionInterface):
    """Every request signs in with a bearer token, so no cookie session is opened or signed."""

    def open_session(self, app, request):
        return None  # Flask then uses its null session

    def save_session(self, app, session, response):
        pass


def create_app(settings: Settings | None = None, service: PilarApplication | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        API_TITLE="Pilar",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Served from the installed swagger-ui-bundle, so the docs work with no internet.
        OPENAPI_SWAGGER_UI_URL="/api/v1/docs/static/",
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SECRET_KEY=settings.token_secret(),
        TOKEN_MAX_AGE=TOKEN_MAX_AGE,
        JSON_SORT_KEYS=False,
    )
    app.session_interface = NoCookieSessions()
    service = service or build_application(settings)
    app.extensions["pilar"] = service
    app.extensions["pilar_tokens"] = auth.Tokens(app.config["SECRET_KEY"], TOKEN_MAX_AGE)
    readers = service.access_log.readers  # one pool per worker for every read-side query
    app.extensions["pilar_views"] = WorkloadService(WorkloadQueries(readers, head_sql=head_sql(service.recorder)))
    app.extensions["pilar_audit"] = AuditService(service, readers, service.access_log, settings.audit_key())

    api = Api(app, spec_kwargs={"info": {"description": "Case management for the social pillars of a regency."}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearer": []}]
    for blp in (auth.blp, beneficiaries.blp, cases.blp, workloads.blp, audit.blp, health.blp):
        api.register_blueprint(blp)
    app.register_blueprint(
        FlaskBlueprint("docs_static", __name__, static_folder=str(swagger_ui_path),
                       static_url_path="/api/v1/docs/static")
    )
    init_metrics(app)
    app.before_request(auth.authenticate_request)
    register_error_handlers(app)
    return app
