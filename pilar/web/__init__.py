"""Pages for people (Bahasa Indonesia first, English as a choice): a sibling of the JSON API over
the same services. Cookie sessions hold the same revocable token the API uses (pilar/web/session.py);
every form carries a CSRF token (Flask-WTF) and every write the case version (stale forms) and an
Idempotency-Key (double submits), fed to the same write path as the API's."""

from pathlib import Path

from flask import Blueprint, Flask
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from pilar.web import i18n

HERE = Path(__file__).parent
csrf = CSRFProtect()
blp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")

from pilar.web import auth, case_pages, case_writes, errors, people, session  # noqa: E402,F401  (views register on blp)


def init_web(app: Flask) -> None:
    app.config.update(
        # Checked by the pages' own hook (pilar/web/session.py), never on the API, which takes no cookies.
        WTF_CSRF_CHECK_DEFAULT=False,
        # A form may be filled in slowly on a weak connection: its token lasts as long as the session.
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)
    Babel(app, locale_selector=i18n.locale, default_locale=i18n.DEFAULT, default_timezone=i18n.TIMEZONE,
          default_translation_directories=str(HERE / "translations"))
    i18n.install_filters(app)
    app.jinja_env.finalize = _blank_for_none  # a value erased or never given shows as nothing, not "None"
    app.register_blueprint(blp)


def _blank_for_none(value):
    return "" if value is None else value
