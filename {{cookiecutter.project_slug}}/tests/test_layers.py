"""The channel layer as configured: a full channel never loses a message silently."""

import logging
import uuid

from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

from .layer import DROPPED_MESSAGE_LOG, close_layer


async def test_group_message_to_a_full_channel_is_logged(settings, caplog):
    default = settings.CHANNEL_LAYERS[DEFAULT_CHANNEL_LAYER]
    settings.CHANNEL_LAYERS = {
        DEFAULT_CHANNEL_LAYER: {**default, "CONFIG": {**default["CONFIG"], "capacity": 1}}
    }
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    try:
        channel = await layer.new_channel()
        group = f"full-{uuid.uuid4().hex}"
        await layer.group_add(group, channel)
        with caplog.at_level(logging.INFO):
            await layer.group_send(group, {"type": "chat.message", "message": "kept"})
            await layer.group_send(group, {"type": "chat.message", "message": "dropped"})
        assert (await layer.receive(channel))["message"] == "kept"
        assert DROPPED_MESSAGE_LOG in caplog.text
        await layer.group_discard(group, channel)
    finally:
        await close_layer(layer)


def test_capacity_and_expiry_settings(settings):
    config = settings.CHANNEL_LAYERS[DEFAULT_CHANNEL_LAYER]["CONFIG"]
    assert config["capacity"] >= 1000
    assert config["expiry"] == 60
    # A member stays in its groups for a day (README: "The channel layer").
    assert config["group_expiry"] >= 86400
