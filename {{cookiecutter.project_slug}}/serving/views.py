from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse


@login_not_required
def health(request):
    """Answer "ok" (text/plain): this process serves Django (``manage.py healthcheck`` asks it)."""
    return HttpResponse("ok", content_type="text/plain")
