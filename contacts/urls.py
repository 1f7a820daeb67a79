from __future__ import annotations

from django.urls import path

from contacts import views

app_name = "contacts"

urlpatterns = [
    path("contacts/", views.contact_list, name="list"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="detail"),
    path("properties/", views.property_list, name="property-list"),
    path("properties/<int:property_id>/", views.property_detail, name="property"),
]
