"""Who the tests connect as: anonymous clients, as the project has no accounts.

This module's twin for a project baked with accounts, users_auth.py, logs its
users in; here every helper says "nobody": no Cookie header, no login, and
messages from "anonymous", unless a page picked a display name (``sign_in``).
"""

import json
import uuid

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
    """Give the page's browser context a display name, as the room page's name form keeps it
    (localStorage "chat.name"); return it: ``name`` with a random suffix, so tests never collide.
    """
    display_name = f"{name}-{uuid.uuid4().hex[:8]}"
    page.context.add_init_script(f"localStorage.setItem('chat.name', {json.dumps(display_name)})")
    return display_name
