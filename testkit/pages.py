"""Pages in Flask's test client, signed in with a session as a browser would (like Flask's tutorial
AuthActions): the sign-in form with its CSRF token, then each form's hidden fields read from the
page it was rendered on (CSRF token, case version, Idempotency-Key)."""

from html.parser import HTMLParser
from typing import Any

import pytest

from testkit.fixtures import PASSWORD


class Forms(HTMLParser):
    """Every form of a page: its action → the values of its hidden inputs."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._action: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Any]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self._action = found.get("action") or ""
            self.forms.setdefault(self._action, {})
        elif tag == "input" and self._action is not None and found.get("type") == "hidden":
            self.forms[self._action][found["name"]] = found.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._action = None


class Pages:
    """A signed-in (or not) browser session on a test client."""

    def __init__(self, client):
        self.client = client

    def hidden(self, page: str, action: str) -> dict[str, str]:
        html = self.client.get(page).get_data(as_text=True)
        forms = Forms(html).forms
        assert action in forms, f"no form posting to {action} on {page}: {sorted(forms)}"
        return forms[action]

    def sign_in(self, username: str, password: str):
        token = self.hidden("/sign-in", "/sign-in")["csrf_token"]
        return self.client.post("/sign-in", data={"username": username, "password": password,
                                                  "csrf_token": token})

    def submit(self, page: str, action: str, data: dict[str, Any], hidden: dict[str, str] | None = None):
        """Posts `data` through the form posting to `action` as rendered on `page`."""
        fields = hidden if hidden is not None else self.hidden(page, action)
        return self.client.post(action, data={**fields, **data})


# Fixtures for page tests, imported by each module that uses them.
@pytest.fixture
def pages(client, staff):
    return Pages(client)


@pytest.fixture
def wati(pages):
    assert pages.sign_in("wati", PASSWORD).status_code == 303
    return pages
