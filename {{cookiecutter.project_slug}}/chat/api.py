"""The rooms' HTTP API: read a room's stored messages, or post one from outside a websocket.

- ``GET /api/rooms/<room_name>/messages/?after=<id>``: 200, ``{"messages": [...],
  "more": ...}``, as the history frame (chat/rooms.py, ``history``);
- ``POST`` to the same URL, body ``{"message": "<text>"}``: 201 with the stored
  ``chat.message`` object, delivered to the room's members.

A bad request gets 400 with the wire protocol's error object; a post over
the rate limit (chat/limits.py) gets 429 with ``rate_limited`` and
Retry-After. Two endpoints are plain Django views returning JSON; a REST
framework would add a dependency, its own settings and its own error format
for no gain here.
"""

from django.http import JsonResponse
from django.views.decorators import csrf
from django.views.decorators.http import require_http_methods

from . import limits, protocol, rooms


# With logins, a POST rides on the user's session, so Django's CSRF check applies
# as to any form; without them there is no session for a forged request to use.
@csrf.{{ "csrf_protect" if cookiecutter.use_auth else "csrf_exempt" }}
@require_http_methods(["GET", "POST"])
def messages(request, room_name):
    """Answer a room's messages (GET) or store and deliver one (POST); see the module docstring."""
    try:
        if request.method == "POST":
            wait = limits.allow_post(limits.client_key(request))
            if wait:
                response = JsonResponse(limits.rate_limited().event(), status=429)
                response["Retry-After"] = limits.retry_after(wait)
                return response
            text = protocol.parse_frame(request.body)
            event = rooms.post_message(room_name, text, getattr(request, "user", None))
            return JsonResponse(event, status=201)
        page, more = rooms.history(room_name, protocol.read_after(request.META["QUERY_STRING"]))
    except protocol.ProtocolError as error:
        return JsonResponse(error.event(), status=400)
    return JsonResponse({"messages": page, "more": more})
