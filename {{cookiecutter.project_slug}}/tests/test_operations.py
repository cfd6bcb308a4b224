"""Operations endpoints in-process: readiness (/readyz/) and the figures of /metrics."""

import asyncio
import json

import pytest
from django.db import OperationalError
from django.test import AsyncClient
from prometheus_client.parser import text_string_to_metric_families

from serving import views

from .inprocess import figure, join, receive, send

TOKEN = "a-metrics-token-for-tests"


@pytest.mark.django_db(transaction=True)
async def test_ready_answers_200_when_the_database_and_channel_layer_work(channel_layer):
    response = await AsyncClient().get("/readyz/")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "ok"}


@pytest.mark.django_db(transaction=True)
async def test_ready_answers_503_naming_what_failed(channel_layer, monkeypatch, caplog):
    def broken_database():
        raise OperationalError("could not connect to server")

    async def hung_channel_layer():
        await asyncio.sleep(60)

    monkeypatch.setattr(views, "check_database", broken_database)
    monkeypatch.setattr(views, "check_channel_layer", hung_channel_layer)
    monkeypatch.setattr(views, "READY_TIMEOUT", 0.1)
    response = await AsyncClient().get("/readyz/")
    assert response.status_code == 503
    assert response.json() == {
        "database": "failed: OperationalError",
        "channel_layer": "timed out after 0.1 s",
    }
    # The details go to the log, not to the public answer.
    assert "could not connect to server" in caplog.text


def test_health_answers_even_when_ready_would_not(client, monkeypatch):
    monkeypatch.setattr(views, "check_database", None)  # never called: liveness only
    assert client.get("/healthz/").status_code == 200


def test_metrics_are_not_served_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
def test_metrics_need_the_bearer_token(client, settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_metrics_answer_prometheus_text_format(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    families = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "chat_websocket_connections",
        "chat_websocket_handshakes_accepted",
        "chat_websocket_frames_received",
        "chat_messages_stored",
        "chat_message_store_seconds",
        "chat_channel_layer_drops",
    } <= families


@pytest.mark.django_db(transaction=True)
async def test_a_chat_message_is_counted_from_frame_to_broadcast(
    open_communicator, room_name, alice
):
    names = (
        "chat_websocket_handshakes_accepted_total",
        "chat_websocket_frames_received_total",
        "chat_messages_stored_total",
        "chat_messages_broadcast_total",
        "chat_message_store_seconds_count",
    )
    before = {name: figure(name) for name in names}
    open_before = figure("chat_websocket_connections")
    member, _ = await join(open_communicator, room_name, alice)
    assert figure("chat_websocket_connections") == open_before + 1
    await send(member, "counted")
    assert (await receive(member))["message"] == "counted"
    assert {name: figure(name) - before[name] for name in names} == dict.fromkeys(names, 1)
    await member.disconnect()
    assert figure("chat_websocket_connections") == open_before


@pytest.mark.django_db(transaction=True)
async def test_error_frames_are_counted_by_code(open_communicator, room_name, alice):
    before = figure("chat_websocket_error_frames_total", code="invalid_json")
    member, _ = await join(open_communicator, room_name, alice)
    await member.send_to(text_data="{not json")
    assert (await receive(member))["code"] == "invalid_json"
    await member.send_to(text_data=json.dumps({"message": "fine"}))
    assert (await receive(member))["message"] == "fine"
    assert figure("chat_websocket_error_frames_total", code="invalid_json") == before + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "origin", "reason"),
    [("/ws/echo/", "http://evil.example", "origin"), ("/ws/nowhere/", None, "route")],
)
async def test_refused_handshakes_are_counted_by_reason(
    open_communicator, alice, path, origin, reason
):
    before = figure("chat_websocket_handshakes_refused_total", reason=reason)
    options = {"origin": origin} if origin else {}
    _, accepted = await open_communicator(path, cookie=alice, **options)
    assert not accepted
    assert figure("chat_websocket_handshakes_refused_total", reason=reason) == before + 1
