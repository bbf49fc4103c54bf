from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The site's own app, labelled ``home`` as in a project ``wagtail start`` made."""

    name = "tests.wagtailsite.home"
    label = "home"
    default_auto_field = "django.db.models.BigAutoField"
