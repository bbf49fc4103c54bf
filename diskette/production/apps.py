from django.apps import AppConfig


class ProductionConfig(AppConfig):
    """diskette without loads. Its label is diskette's own, so that installing
    both is refused by Django ("Application labels aren't unique")."""

    name = "diskette.production"
    label = "diskette"
    verbose_name = "Diskette (production: no loads)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from diskette import checks  # noqa: F401  (registers the system checks)
