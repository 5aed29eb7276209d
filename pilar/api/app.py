"""The JSON API on an app: its blueprints, the OpenAPI document and its offline docs."""

import threading

from flask import Blueprint as FlaskBlueprint
from flask import Flask
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path

from pilar.api import audit, auth, beneficiaries, cases, health, households, imports, privacy, reference, users, workloads
from pilar.api.limits import init_limits
from pilar.api.readiness import init_readiness
from pilar.cases.security_log import init_security_log

BLUEPRINTS = (auth.blp, beneficiaries.blp, cases.blp, workloads.blp, privacy.blp, audit.blp, users.blp, reference.blp,
              health.blp, households.blp, imports.blp)


DESCRIPTION = (
    "Case management for the social pillars of a regency.\n\n"
    "Every 200 answer to a GET carries an `ETag`; send it back in `If-None-Match` to get **304 Not Modified** "
    "(no body) while the answer is unchanged. A case's ETag is `\"<version>.<digest>\"`; `If-Match` on a write "
    "compares the version. Answers over 1 KiB are compressed (brotli or gzip) when `Accept-Encoding` allows."
)


class ScopedApi(Api):
    """flask-smorest's Api, without its app-wide HTTP error handler: each API blueprint answers
    its own errors as JSON, and the rest of the app (pages) chooses its own. A blueprint's routes
    are registered at once, its part of the OpenAPI document when the document is first asked for:
    documenting is 70% of building an app, which most apps (a worker's, a test's) never serve."""

    def __init__(self, *args, **kwargs):
        self._undocumented: list[tuple] = []
        self._documenting = threading.Lock()
        super().__init__(*args, **kwargs)

    def _register_error_handlers(self):
        pass

    def register_blueprint(self, blp, *, parameters=None, **options):
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    def _openapi_json(self):
        with self._documenting:  # a worker's threads may ask at once
            for blp, name, parameters in self._undocumented:
                blp.register_views_in_doc(self, self._app, self.spec, name=name, parameters=parameters)
                self.spec.tag({"name": name, "description": blp.description})
            self._undocumented.clear()
        return super()._openapi_json()


def init_api(app: Flask) -> None:
    app.config.update(
        API_TITLE="Pilar",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Served from the installed swagger-ui-bundle, so the docs work with no internet.
        OPENAPI_SWAGGER_UI_URL="/api/v1/docs/static/",
        # Nor does it send the document to an online validator for a badge.
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
    )
    api = ScopedApi(app, spec_kwargs={"info": {"description": DESCRIPTION}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearer": []}]
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    init_limits(app)
    init_readiness(app)
    init_security_log()
    app.register_blueprint(
        FlaskBlueprint("docs_static", __name__, static_folder=str(swagger_ui_path),
                       static_url_path="/api/v1/docs/static")
    )
