"""The channel layer as configured: a full channel never loses a message silently."""

import logging
import uuid

from channels.layers import get_channel_layer


async def test_group_message_to_a_full_channel_is_logged(settings, caplog):
    default = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {
        "default": {**default, "CONFIG": {**default["CONFIG"], "capacity": 1}}
    }
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = f"full-{uuid.uuid4().hex}"
    await layer.group_add(group, channel)

    with caplog.at_level(logging.INFO):
        await layer.group_send(group, {"type": "chat.message", "message": "kept"})
        await layer.group_send(group, {"type": "chat.message", "message": "dropped"})

    assert (await layer.receive(channel))["message"] == "kept"
{%- if cookiecutter.channel_layer == "redis" %}
    assert "1 of 1 channels over capacity in group" in caplog.text
{%- else %}
    assert "is full (capacity 1): message of type 'chat.message' dropped" in caplog.text
{%- endif %}
    await layer.group_discard(group, channel)


def test_capacity_and_expiry_settings(settings):
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    assert config["capacity"] >= 1000
    assert config["expiry"] == 60
    # A member must stay in its groups for as long as daphne keeps a websocket open.
    assert config["group_expiry"] >= 86400
