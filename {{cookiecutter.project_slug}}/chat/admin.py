"""The stored messages in Django's admin (with accounts only: the admin needs them)."""

from django.contrib import admin

from .models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Browse and delete messages by room, author and time; their text is searchable."""

    list_display = ["id", "room", "author", "created", "text"]
    list_filter = ["room"]
    search_fields = ["text", "author", "room"]
    date_hierarchy = "created"
    raw_id_fields = ["user"]
