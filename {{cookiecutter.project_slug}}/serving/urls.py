from django.urls import path

from . import views

app_name = "serving"

urlpatterns = [
    path("healthz/", views.health, name="health"),
    path("readyz/", views.ready, name="ready"),
    path("metrics", views.prometheus, name="metrics"),
]
