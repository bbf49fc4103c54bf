from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "tests.realsite.catalog"
    label = "catalog"
    verbose_name = "Catalog"
