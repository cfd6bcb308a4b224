"""Who the tests connect as: anonymous clients, as the project has no accounts.

This module's twin for a project baked with accounts, users_auth.py, logs its
users in; here every helper says "nobody": no Cookie header, no login, and
messages from "anonymous".
"""

import pytest

from chat.protocol import ANONYMOUS

# No sessions, so an API POST carries nothing a forged request could ride on.
NEEDS_CSRF_TOKEN = False


def shown_name(username: str) -> str:
    """Return the "user" that chat messages carry: "anonymous", whoever sent them."""
    return ANONYMOUS


@pytest.fixture
def page_client(client):
    """Django's test client: every page is open to anonymous users."""
    return client


@pytest.fixture
def alice():
    """No Cookie header: there are no logins."""
    return None


@pytest.fixture
def bob():
    """No Cookie header: there are no logins."""
    return None


@pytest.fixture
def carol():
    """No Cookie header: there are no logins."""
    return None


@pytest.fixture(scope="session")
def live_users():
    """No accounts to sign up."""
    return ()


def live_cookie(server, username: str) -> None:
    """No Cookie header: there are no logins."""
    return None


@pytest.fixture(scope="session")
def live_alice():
    """No Cookie header: there are no logins."""
    return None


@pytest.fixture(scope="session")
def live_bob():
    """No Cookie header: there are no logins."""
    return None


def sign_in(page, name: str) -> str:
    """Nothing to sign in to; return the name messages from ``page`` will carry."""
    return ANONYMOUS
