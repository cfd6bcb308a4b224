{% if cookiecutter.use_auth -%}
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
{% endif -%}
from django.shortcuts import redirect, render
{%- if cookiecutter.use_auth %}
from django.urls import reverse_lazy
from django.views.generic import CreateView
{%- endif %}

from .forms import RoomForm

{% if cookiecutter.use_auth %}
@login_required
{%- endif %}
def index(request):
    """Pick a room: a valid ``?room=<name>`` redirects to that room's page."""
    form = RoomForm(request.GET or None)
    if form.is_valid():
        return redirect("chat:room", room_name=form.cleaned_data["room"])
    return render(request, "chat/index.html", {"form": form})

{% if cookiecutter.use_auth %}
@login_required
{%- endif %}
def room(request, room_name):
    """Show one room; its JavaScript connects to ``ws/chat/<room_name>/``."""
    return render(request, "chat/room.html", {"room_name": room_name})
{%- if cookiecutter.use_auth %}


class SignupView(CreateView):
    """Create an account with Django's UserCreationForm, log it in, go to the index."""

    form_class = UserCreationForm
    template_name = "registration/signup.html"
    success_url = reverse_lazy("chat:index")

    def form_valid(self, form):
        """Save the new user, log it in, then redirect to ``success_url``."""
        response = super().form_valid(form)
        login(self.request, self.object)
        return response
{%- endif %}
