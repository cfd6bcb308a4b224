"""HTTP routes. The websocket routes live in chat/routing.py."""

{% if cookiecutter.use_auth -%}
from django.contrib import admin
{% endif -%}
from django.urls import include, path
{%- if cookiecutter.use_auth %}

from chat.views import SignupView
{%- endif %}

urlpatterns = [
{%- if cookiecutter.use_auth %}
    path("accounts/signup/", SignupView.as_view(), name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
{%- endif %}
    path("", include("chat.urls")),
]
