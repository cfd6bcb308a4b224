"""Who the tests connect as: users with accounts, logged in for real.

The project requires a login for every page and websocket, so each test layer
logs in the way its clients would: the unit tests with Django's test client,
the live tests through the real login form over HTTP, the browser tests
through the pages. (users_noauth.py is this module's twin for a project
baked without accounts.)
"""

import re
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import expect

PASSWORD = "a long test pass phrase"
# An API POST rides on the user's session, so it needs Django's CSRF token.
NEEDS_CSRF_TOKEN = True


def shown_name(username: str) -> str:
    """Return the "user" that chat messages from ``username`` carry: the username."""
    return username


def _unit_cookie(username: str) -> str:
    """Create ``username``, log it in with Django's test client; return a Cookie header."""
    user = get_user_model().objects.create_user(username)  # no password: no slow hashing
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.fixture
def page_client(client, django_user_model):
    """Django's test client, logged in as "alice" (every page needs a login)."""
    client.force_login(django_user_model.objects.create_user("alice"))
    return client


@pytest.fixture
def alice(db):
    """The Cookie header of a logged-in "alice" (unit tests)."""
    return _unit_cookie("alice")


@pytest.fixture
def bob(db):
    """The Cookie header of a logged-in "bob" (unit tests)."""
    return _unit_cookie("bob")


@pytest.fixture
def carol(db):
    """The Cookie header of a logged-in "carol" (unit tests)."""
    return _unit_cookie("carol")


class _FormClient:
    """An HTTP client with a cookie jar, for the login and signup forms of a live server.

    It sends the Origin header a browser would, so Django's CSRF check runs
    for real: GET the form for the csrftoken cookie and field, then POST.
    """

    def __init__(self, server) -> None:
        self.server = server
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> str:
        """GET ``path``, following redirects; return the body. Raises urllib's URLError."""
        with self.opener.open(self.server.origin + path, timeout=30) as response:
            return response.read().decode()

    def submit(self, path: str, fields: dict[str, str]) -> str:
        """POST ``fields`` to the form at ``path``; return the final URL after redirects."""
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.get(path)).group(1)
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        request = urllib.request.Request(
            self.server.origin + path, data=data, headers={"Origin": self.server.origin}
        )
        with self.opener.open(request, timeout=30) as response:
            return response.url

    def cookie_header(self) -> str:
        """Return the ``Cookie`` header value a websocket handshake should send."""
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.cookies)


@pytest.fixture(scope="session")
def live_users(asgi_server):
    """Sign up "alice" and "bob" through the real signup form, in the live database.

    Every live server shares that database, so they can log in on any of them.
    """
    for username in ("alice", "bob"):
        form = {"username": username, "password1": PASSWORD, "password2": PASSWORD}
        landed = _FormClient(asgi_server).submit("/accounts/signup/", form)
        assert not landed.endswith("/accounts/signup/"), f"signup as {username} failed"
    return ("alice", "bob")


def live_cookie(server, username: str) -> str:
    """Log ``username`` in through ``server``'s login form; return its Cookie header."""
    client = _FormClient(server)
    landed = client.submit("/accounts/login/", {"username": username, "password": PASSWORD})
    assert not landed.endswith("/accounts/login/"), f"login as {username} failed"
    return client.cookie_header()


@pytest.fixture(scope="session")
def live_alice(asgi_server, live_users):
    """The Cookie header of "alice", logged in on the session's live server."""
    return live_cookie(asgi_server, "alice")


@pytest.fixture(scope="session")
def live_bob(asgi_server, live_users):
    """The Cookie header of "bob", logged in on the session's live server."""
    return live_cookie(asgi_server, "bob")


def sign_in(page, name: str) -> str:
    """Sign up a new user through the signup page (which logs it in); return the username.

    The username is ``name`` with a random suffix, so tests never collide.
    """
    username = f"{name}-{uuid.uuid4().hex[:8]}"
    page.goto("/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("#signup-submit")
    expect(page.locator("#current-user")).to_contain_text(username)
    return username
