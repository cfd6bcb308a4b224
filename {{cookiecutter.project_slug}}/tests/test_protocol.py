"""The wire protocol's rules, tested once for every consumer style."""

from datetime import UTC, datetime

import pytest

from chat import protocol


def test_parse_frame_returns_the_message():
    assert protocol.parse_frame('{"message": "hello"}') == "hello"


def test_parse_frame_accepts_extra_fields_and_unicode():
    assert protocol.parse_frame('{"message": "h\\u00e9llo ✓", "id": 7}') == "héllo ✓"


@pytest.mark.parametrize(
    ("text_data", "code"),
    [
        (None, "binary_not_supported"),
        ("", "invalid_json"),
        ("not json", "invalid_json"),
        ('{"message": "unterminated', "invalid_json"),
        ('"just a string"', "invalid_message"),
        ("[1, 2]", "invalid_message"),
        ("{}", "invalid_message"),
        ('{"message": 42}', "invalid_message"),
        ('{"message": null}', "invalid_message"),
        ('{"text": "hello"}', "invalid_message"),
        ('{"message": ""}', "empty_message"),
        ('{"message": " \\t\\n\\u00a0"}', "empty_message"),
    ],
)
def test_parse_frame_rejects_bad_frames(text_data, code):
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.parse_frame(text_data)
    assert caught.value.code == code
    assert caught.value.detail


def test_message_length_limit_is_inclusive(settings):
    settings.CHAT_MAX_MESSAGE_LENGTH = 10
    assert protocol.read_message({"message": "x" * 10}) == "x" * 10
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.read_message({"message": "x" * 11})
    assert caught.value.code == "message_too_long"
    assert "10" in caught.value.detail


def test_error_event_shape():
    error = protocol.ProtocolError("invalid_json", "The frame is not valid JSON.")
    assert error.event() == {
        "type": "error",
        "code": "invalid_json",
        "detail": "The frame is not valid JSON.",
    }


def test_echo_event_shape():
    assert protocol.echo_event("hi") == {"type": "echo", "message": "hi"}


def test_chat_event_shape():
    sent = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert protocol.chat_event(7, "hi", "alice", sent) == {
        "type": "chat.message",
        "id": 7,
        "message": "hi",
        "user": "alice",
        "timestamp": "2026-01-02T03:04:05.678+00:00",
    }


def test_history_event_shape():
    assert protocol.history_event([], False) == {"type": "history", "messages": [], "more": False}


@pytest.mark.parametrize(
    ("query_string", "after"),
    [(b"", None), (b"other=1", None), (b"after=0", 0), (b"after=42", 42), ("after=007", 7)],
)
def test_read_after_returns_the_id(query_string, after):
    assert protocol.read_after(query_string) == after


@pytest.mark.parametrize(
    "query_string",
    [
        b"after=",
        b"after=x",
        b"after=-1",
        b"after=1.0",
        b"after=%201",
        b"after=1&after=2",
        f"after={2**63}".encode(),
        "after=١".encode(),
    ],
)
def test_read_after_rejects_what_is_not_a_message_id(query_string):
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.read_after(query_string)
    assert caught.value.code == "invalid_after"


def test_encode_keeps_text_readable():
    assert protocol.encode({"message": "<b>é</b>"}) == '{"message": "<b>é</b>"}'


def test_display_name_without_a_user_is_anonymous():
    assert protocol.display_name(None) == "anonymous"


def test_group_name_fits_channels_limit():
    assert len(protocol.group_name("x" * protocol.ROOM_NAME_MAX_LENGTH)) < 100


class LoggedIn:
    """A logged-in user as the scope holds one (this module needs no database)."""

    is_authenticated = True

    def get_username(self) -> str:
        return "carol"


@pytest.mark.parametrize(
    ("query_string", "name"),
    [
        (b"", "anonymous"),
        (b"after=3", "anonymous"),
        (b"name=Ann", "Ann"),
        (b"name=%20Ann%20Lee%20", "Ann Lee"),
        ("name=Zoë_O.-1".encode(), "Zoë_O.-1"),
        (b"name=" + b"x" * 32, "x" * 32),
    ],
)
def test_member_name_without_a_login_is_the_name_asked_for(query_string, name):
    assert protocol.member_name({"query_string": query_string}) == name


@pytest.mark.parametrize(
    "query_string",
    [
        b"name=",
        b"name=%20%20",
        b"name=" + b"x" * 33,
        b"name=a%3Cb",
        b"name=a&name=b",
        b"name=a%0Ab",
    ],
)
def test_member_name_refuses_a_name_that_breaks_the_rule(query_string):
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.member_name({"query_string": query_string})
    assert caught.value.code == "invalid_name"


def test_member_name_with_a_login_is_the_username_whatever_name_says():
    scope = {"user": LoggedIn(), "query_string": b"name=%3Cnot%20valid%3E"}
    assert protocol.member_name(scope) == "carol"


def test_presence_event_shape():
    assert protocol.presence_event(["a", "b"]) == {"type": "presence", "users": ["a", "b"]}


def test_read_join_drops_each_bad_part_for_its_default_with_an_error_frame():
    assert protocol.read_join({"query_string": b"after=4&name=Ann"}) == (4, "Ann", [])
    after, name, errors = protocol.read_join({"query_string": b"after=x&name=%3C%3E"})
    assert (after, name) == (None, "anonymous")
    assert [error["code"] for error in errors] == ["invalid_after", "invalid_name"]
