from django import forms

from .protocol import ROOM_NAME_PATTERN, ROOM_NAME_RULE


class RoomForm(forms.Form):
    """The room picker on the index page, checking ``protocol.ROOM_NAME_PATTERN``.

    The browser checks the same pattern first (the input's ``pattern``
    attribute); the server's check is the one that counts.
    """

    room = forms.RegexField(
        regex=rf"\A{ROOM_NAME_PATTERN}\Z",
        label="Room name",
        label_suffix="",
        help_text=f"{ROOM_NAME_RULE}.",
        error_messages={"invalid": f"Use {ROOM_NAME_RULE}."},
        widget=forms.TextInput(
            attrs={
                "id": "room-name-input",
                "pattern": ROOM_NAME_PATTERN,
                "autocomplete": "off",
                "autofocus": True,
            }
        ),
    )
