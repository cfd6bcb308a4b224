from django.shortcuts import redirect, render

from .forms import RoomForm


def index(request):
    """Pick a room: a valid ``?room=<name>`` redirects to that room's page."""
    form = RoomForm(request.GET or None)
    if form.is_valid():
        return redirect("chat:room", room_name=form.cleaned_data["room"])
    return render(request, "chat/index.html", {"form": form})


def room(request, room_name):
    """Show one room; its JavaScript connects to ``ws/chat/<room_name>/``."""
    return render(request, "chat/room.html", {"room_name": room_name})
