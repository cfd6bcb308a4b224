"""Errors to Sentry (serving/errors.py): the real SDK, sending to an endpoint of the test's own.

The endpoint stands where Sentry's ingest would: an HTTP server on loopback
that keeps each envelope the SDK POSTs to ``/api/<project>/envelope/``. The
unit tests raise exceptions in-process, through config.asgi:application and
the Django test client; the live test makes the production server fail for
real, with its database out of reach (no route raises on purpose).
"""

import asyncio
import gzip
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk
from django.core.exceptions import ImproperlyConfigured
from sentry_sdk.envelope import Envelope
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chat import rooms
from serving.errors import init_sentry

from .inprocess import TIMEOUT, join, send
from .live import TIMEOUT as LIVE_TIMEOUT
from .live import AsgiServer, json_records, open_socket

PROJECT_ID = 1
FAILURE = "the room could not store it"
MESSAGE = "a message that must not reach Sentry"


class SentryEndpoint:
    """An HTTP server on 127.0.0.1 keeping what the Sentry SDK sends it; ``dsn`` points there."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []  # (path, decoded body) of each POST
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                received.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass  # the test reads what arrived, not the server's access log

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def dsn(self) -> str:
        """The DSN of project ``PROJECT_ID`` on this endpoint."""
        return f"http://public@127.0.0.1:{self.server.server_address[1]}/{PROJECT_ID}"

    def events(self) -> list[dict]:
        """Return the error events that arrived, once this process's SDK has sent all it holds."""
        assert sentry_sdk.flush(timeout=TIMEOUT) is None
        return self.arrived()

    def arrived(self) -> list[dict]:
        """Return the error events that arrived so far, from any process."""
        events = []
        for path, body in self.received:
            assert path == f"/api/{PROJECT_ID}/envelope/", path
            event = Envelope.deserialize(body).get_event()
            if event is not None:
                events.append(event)
        return events

    def close(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    """A ``SentryEndpoint``, closed at the end."""
    endpoint = SentryEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture
def sentry(endpoint):
    """The SDK started by ``init_sentry`` on a ``SentryEndpoint``; stopped again afterwards.

    Closing the client and clearing it from the global scope leaves the SDK
    as it is without SENTRY_DSN, so the tests after this one send nothing:
    its integrations stay patched in, but do nothing without a client.
    """
    assert init_sentry(endpoint.dsn, environment="test")
    yield endpoint
    sentry_sdk.get_client().close(timeout=TIMEOUT)
    sentry_sdk.get_global_scope().set_client(None)


def failing_post_message(*args, **kwargs):
    """Stands in for ``rooms.post_message`` when storing a message fails."""
    raise RuntimeError(FAILURE)


def only_exception(events: list[dict]) -> dict:
    """Return the exception of the one event in ``events`` (the outermost, if chained)."""
    (event,) = events
    return event["exception"]["values"][-1]


def assert_nothing_private(event: dict, *private: str | None) -> None:
    """Fail if ``event`` names a user or holds any of ``private`` (a None is skipped).

    ``private``: a session key, a chat message's text.
    """
    assert "user" not in event
    text = json.dumps(event)
    for value in filter(None, private):
        assert value not in text, value


@pytest.mark.django_db(transaction=True)
async def test_an_exception_in_a_consumer_arrives_as_one_event(
    sentry, open_communicator, room_name, alice, monkeypatch
):
    member, _ = await join(open_communicator, room_name, alice)
    monkeypatch.setattr(rooms, "post_message", failing_post_message)
    await send(member, MESSAGE)
    with pytest.raises(RuntimeError, match=FAILURE):
        await member.wait(TIMEOUT)
    events = sentry.events()
    exception = only_exception(events)
    assert (exception["type"], exception["value"]) == ("RuntimeError", FAILURE)
    assert exception["mechanism"]["type"] == "asgi"
    (event,) = events
    assert event["environment"] == "test"
    assert event["request"]["url"].endswith(f"/ws/chat/{room_name}/")
    assert_nothing_private(event, alice and alice.partition("=")[2], MESSAGE)


@pytest.mark.django_db
def test_an_exception_in_a_view_arrives_as_one_event(sentry, page_client, monkeypatch):
    monkeypatch.setattr(rooms, "post_message", failing_post_message)
    page_client.raise_request_exception = False
    response = page_client.post(
        "/api/rooms/lobby/messages/", {"message": MESSAGE}, content_type="application/json"
    )
    assert response.status_code == 500
    events = sentry.events()
    exception = only_exception(events)
    assert (exception["type"], exception["value"]) == ("RuntimeError", FAILURE)
    assert exception["mechanism"]["type"] == "django"
    session = page_client.cookies.get("sessionid")
    assert_nothing_private(events[0], session and session.value, MESSAGE)


def test_without_a_dsn_the_sdk_is_not_started():
    assert init_sentry("") is False
    assert not sentry_sdk.is_initialized()


def test_a_malformed_dsn_is_refused_naming_the_setting():
    with pytest.raises(ImproperlyConfigured, match="SENTRY_DSN"):
        init_sentry("not a dsn")
    assert not sentry_sdk.is_initialized()


@pytest.mark.live
async def test_a_live_servers_failures_arrive_as_one_event_each(
    live_env, endpoint, tmp_path, room_name
):
    """The production server with SENTRY_DSN set and its database out of reach.

    A websocket handshake and an API request both need the database (with
    accounts, to look up the session of the Cookie sent; without, to read the
    room's history), so each fails with OperationalError, in the websocket
    stack and in a view. The server logs the websocket's exception again (an
    ERROR record): once that line is written, its event, were it not
    ignored, is queued too. The SDK sends each event from a thread of its
    own as it happens: the test waits for two, then stops the server
    gracefully, which sends whatever the SDK still holds, so a third would
    show. (Waiting for the stop alone to send them lost an event on a busy
    machine: a worker process may end before its SDK thread has sent.) The
    session key sent must not reach Sentry.
    """
    session_key = "a-session-key-that-must-not-reach-sentry"
    cookie = f"sessionid={session_key}"
    unreachable = tmp_path / "no-such-directory" / "db.sqlite3"
    env = {**live_env, "SENTRY_DSN": endpoint.dsn, "DATABASE_URL": f"sqlite:///{unreachable}"}
    with AsgiServer(env, tmp_path / "server.log") as server:
        with pytest.raises((InvalidStatus, ConnectionClosed)):
            async with open_socket(server, f"/ws/chat/{room_name}/", cookie) as websocket:
                await asyncio.wait_for(websocket.recv(), LIVE_TIMEOUT)
        async with asyncio.timeout(LIVE_TIMEOUT):
            while not any(r["level"] == "ERROR" for r in json_records(server.log.read_text())):
                await asyncio.sleep(0.1)
        request = urllib.request.Request(
            f"{server.origin}/api/rooms/{room_name}/messages/", headers={"Cookie": cookie}
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=LIVE_TIMEOUT)
        assert answer.value.code == 500
        async with asyncio.timeout(LIVE_TIMEOUT):
            while len(endpoint.arrived()) < 2:
                await asyncio.sleep(0.1)
        await asyncio.to_thread(server.stop)
    # The server's own lines about both failures are JSON too, tracebacks included.
    errors = [r for r in json_records(server.log.read_text()) if r["level"] == "ERROR"]
    assert len(errors) >= 2, errors
    assert all("OperationalError" in r.get("exc_info", r["message"]) for r in errors), errors
    events = endpoint.arrived()
    assert all("exception" in event for event in events), events
    mechanisms = sorted(only_exception([event])["mechanism"]["type"] for event in events)
    assert mechanisms == ["asgi", "django"], events
    for event in events:
        assert only_exception([event])["type"] == "OperationalError"
        assert_nothing_private(event, session_key)
