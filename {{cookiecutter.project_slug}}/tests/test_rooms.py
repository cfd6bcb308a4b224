"""chat/rooms.py: storing, delivering after commit, and reading a room's history."""

import pytest
from django.db import transaction

from chat import rooms
from chat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    """Raised to roll a test's transaction back."""


@pytest.fixture
def deliveries(monkeypatch):
    """The (room, event) pairs ``rooms.deliver`` is called with, instead of the channel layer.

    The consumer tests prove delivery through the layer; these prove when it happens.
    """
    delivered = []
    monkeypatch.setattr(rooms, "deliver", lambda room, event: delivered.append((room, event)))
    return delivered


def test_outside_a_transaction_a_message_is_delivered_before_post_returns(deliveries):
    event = rooms.post_message("lobby", "hello", author="system")
    assert deliveries == [("lobby", event)]
    assert Message.objects.get(pk=event["id"]).text == "hello"


def test_inside_a_transaction_delivery_waits_for_the_commit(deliveries):
    with transaction.atomic():
        event = rooms.post_message("lobby", "hello")
        assert deliveries == []
    assert deliveries == [("lobby", event)]


def test_a_rolled_back_message_is_never_delivered(deliveries):
    with pytest.raises(Rollback), transaction.atomic():
        rooms.post_message("lobby", "never said")
        raise Rollback
    assert deliveries == []
    assert not Message.objects.exists()


def test_the_name_shown_is_the_senders_or_the_given_author(deliveries):
    assert rooms.post_message("lobby", "hi")["user"] == "anonymous"
    assert rooms.post_message("lobby", "hi", author="cron")["user"] == "cron"


def test_ids_grow_and_history_pages_forward_without_gaps(deliveries, settings):
    settings.CHAT_HISTORY_LENGTH = 3
    posted = [rooms.post_message("lobby", f"message {n}") for n in range(7)]
    assert [event["id"] for event in posted] == sorted({event["id"] for event in posted})
    seen, after, more = [], 0, True
    while more:
        page, more = rooms.history("lobby", after)
        seen += page
        after = page[-1]["id"] if page else after
    assert seen == posted
    assert rooms.history("lobby") == (posted[-3:], True)
    assert rooms.history("empty") == ([], False)
