"""HTTP routes. The websocket routes live in chat/routing.py."""

{% if cookiecutter.use_auth %}
from django.contrib import admin
{% endif %}
from django.urls import include, path

urlpatterns = [
{% if cookiecutter.use_auth %}
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
{% endif %}
    path("", include("serving.urls")),
    path("", include("chat.urls")),
]
