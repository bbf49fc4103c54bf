from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "sandbox.library"
    label = "library"
    verbose_name = "Library (sandbox)"
    default_auto_field = "django.db.models.BigAutoField"
