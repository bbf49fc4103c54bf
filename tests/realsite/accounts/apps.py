from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tests.realsite.accounts"
    label = "accounts"
    verbose_name = "Accounts"
