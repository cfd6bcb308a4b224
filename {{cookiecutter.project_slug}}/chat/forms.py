from django import forms
from django.core.validators import RegexValidator

from .protocol import ROOM_NAME_PATTERN


class RoomForm(forms.Form):
    """The room picker on the index page: one room name, 1 to 64 of A-Z a-z 0-9 _ -."""

    room = forms.CharField(
        label="Room name",
        max_length=64,
        validators=[
            RegexValidator(
                rf"^{ROOM_NAME_PATTERN}\Z",
                "Use 1 to 64 letters, digits, underscores or hyphens.",
            )
        ],
    )
