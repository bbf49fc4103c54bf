from django.apps import AppConfig


class DisketteConfig(AppConfig):
    name = "diskette"
    verbose_name = "Diskette"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from diskette import checks  # noqa: F401  (registers the system checks)
