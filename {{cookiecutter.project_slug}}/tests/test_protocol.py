"""The wire protocol's rules, tested once for every consumer style."""

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
    event = protocol.chat_event("hi", "alice")
    assert event["type"] == "chat.message"
    assert event["message"] == "hi"
    assert event["user"] == "alice"
    assert event["timestamp"].endswith("+00:00")


def test_encode_keeps_text_readable():
    assert protocol.encode({"message": "<b>é</b>"}) == '{"message": "<b>é</b>"}'


def test_display_name_without_a_user_is_anonymous():
    assert protocol.display_name({}) == "anonymous"


def test_group_name_fits_channels_limit():
    assert len(protocol.group_name("x" * protocol.ROOM_NAME_MAX_LENGTH)) < 100
