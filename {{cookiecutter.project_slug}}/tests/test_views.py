"""The HTML pages."""

import pytest
{%- if cookiecutter.use_auth %}
from django.contrib.auth import get_user_model
{%- endif %}
from django.contrib.staticfiles import finders
{%- if cookiecutter.use_auth %}
from django.test import Client
{%- endif %}

pytestmark = pytest.mark.django_db
{%- if cookiecutter.use_auth %}


@pytest.fixture
def client(client, django_user_model):
    """A client logged in as "alice"."""
    client.force_login(django_user_model.objects.create_user("alice"))
    return client
{%- endif %}


def test_index_has_the_room_picker(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b'id="room-name-input"' in response.content
    assert b'id="room-name-submit"' in response.content


def test_index_redirects_a_valid_room_name(client):
    response = client.get("/", {"room": "lobby-1_a"})
    assert response.status_code == 302
    assert response["Location"] == "/chat/lobby-1_a/"


@pytest.mark.parametrize("room", ["has space", "dot.ted", "x" * 65, "<script>"])
def test_index_explains_an_invalid_room_name(client, room):
    response = client.get("/", {"room": room})
    assert response.status_code == 200
    assert b'class="error"' in response.content


def test_room_page_has_the_chat_elements(client):
    response = client.get("/chat/lobby/")
    assert response.status_code == 200
    for element_id in ("chat-log", "chat-message-input", "chat-message-submit", "room-name"):
        assert f'id="{element_id}"'.encode() in response.content
    assert b"chat/chat.js" in response.content


@pytest.mark.parametrize(
    "path", ["/chat/has%20space/", "/chat/dot.ted/", "/chat/" + "x" * 65 + "/"]
)
def test_room_page_rejects_an_invalid_room_name(client, path):
    assert client.get(path).status_code == 404


def test_static_files_are_found(client):
    assert finders.find("chat/chat.js")
    assert finders.find("chat/chat.css")
{%- if cookiecutter.use_auth %}


@pytest.mark.parametrize("path", ["/", "/chat/lobby/"])
def test_chat_pages_require_login(path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/"])
def test_account_pages_render(path):
    response = Client().get(path)
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content


def test_signup_creates_the_user_and_logs_in():
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {"username": "dora", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(username="dora").exists()
    assert client.get("/").status_code == 200


def test_logout_is_a_post(client):
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302
{%- endif %}
