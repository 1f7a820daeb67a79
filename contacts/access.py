"""Organisation membership checks for views.

Every view that shows organisation data takes the organisation's slug from
the URL and goes through `organisation_member_required`: a user who is not a
member gets 404, so that nobody can even learn that an organisation exists.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse

from django_htmx.middleware import HtmxDetails

from contacts.models import Membership, Organisation


class AuthenticatedHttpRequest(HttpRequest):
    """A request that passed `login_required`, so `user` is a saved User.

    `htmx` is set on every request by django_htmx's HtmxMiddleware.
    """

    user: User
    htmx: HtmxDetails


class OrganisationRequest(AuthenticatedHttpRequest):
    """A request from a logged-in member, with the organisation resolved."""

    organisation: Organisation
    membership: Membership


View = Callable[..., HttpResponse]


def organisation_member_required(view: View) -> View:
    """Resolve `organisation_slug` and require membership (404 otherwise)."""

    @login_required
    @wraps(view)
    def wrapper(
        request: AuthenticatedHttpRequest,
        organisation_slug: str,
        *args: Any,
        **kwargs: Any,
    ) -> HttpResponse:
        membership = (
            Membership.objects.select_related("organisation")
            .filter(user_id=request.user.pk, organisation__slug=organisation_slug)
            .first()
        )
        if membership is None:
            raise Http404("No such organisation.")
        request.organisation = membership.organisation  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper
