from __future__ import annotations

from django.contrib import admin

from contacts.models import Contact, ContactEmail, Membership, Organisation, Property


class MembershipInline(admin.TabularInline[Membership, Organisation]):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin[Organisation]):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ["user", "organisation", "role"]
    list_filter = ["role", "organisation"]
    search_fields = ["user__username", "user__email", "organisation__name"]


class ContactEmailInline(admin.TabularInline[ContactEmail, Contact]):
    model = ContactEmail
    extra = 1
    fields = ["email", "is_primary"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin[Contact]):
    list_display = ["name", "company", "organisation", "primary_email"]
    list_filter = ["organisation"]
    search_fields = ["name", "company", "emails__email"]
    inlines = [ContactEmailInline]


@admin.register(Property)
class PropertyAdmin(admin.ModelAdmin[Property]):
    list_display = ["name", "address", "organisation"]
    list_filter = ["organisation"]
    search_fields = ["name", "address"]
    filter_horizontal = ["contacts"]
