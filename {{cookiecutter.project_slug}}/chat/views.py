from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Max
from django.shortcuts import redirect, render
from django.templatetags.static import static

from .forms import RoomForm
from .models import Message

# The name in every page's header, as the bake was given it (any text on one line).
PROJECT_NAME = {{ cookiecutter.project_name | trim | toml_string }}  # noqa: E501  # fmt: skip
RECENT_ROOMS = 20  # rooms the index lists


def project(request):
    """Context processor: ``project_name`` for the header of every page (chat/base.html)."""
    return {"project_name": PROJECT_NAME}


def recent_rooms(limit: int = RECENT_ROOMS) -> list[str]:
    """Return the rooms holding stored messages, the latest message's room first, at most ``limit``.

    One query: the rooms grouped, each with its largest message id (ids grow
    with time), ordered by it.
    """
    rooms = Message.objects.values("room").annotate(last=Max("id")).order_by("-last")
    return [row["room"] for row in rooms[:limit]]


def index(request):
    """Pick a room: a valid ``?room=<name>`` redirects to that room's page; recent rooms beside."""
    form = RoomForm(request.GET or None)
    if form.is_valid():
        return redirect("chat:room", room_name=form.cleaned_data["room"])
    return render(request, "chat/index.html", {"form": form, "recent_rooms": recent_rooms()})


def room(request, room_name):
    """Show one room; its JavaScript connects to ``ws/chat/<room_name>/``."""
    context = {"room_name": room_name, "message_max_length": settings.CHAT_MAX_MESSAGE_LENGTH}
    return render(request, "chat/room.html", context)


@login_not_required
def favicon(request):
    """Answer ``/favicon.ico``, which browsers and crawlers ask for, with the static SVG icon.

    Found (302), not moved for good: the static file's hashed name changes with
    the icon. Public: the login page shows the icon too.
    """
    return redirect(static("chat/favicon.svg"))
