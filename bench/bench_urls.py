from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def trivial(request: HttpRequest) -> HttpResponse:
    """Read the body and answer 200: the cost of Django itself."""
    return HttpResponse(str(len(request.body)), content_type="text/plain")


urlpatterns = [
    path("trivial/", trivial),
    path("", include("convex_email.urls")),
]
