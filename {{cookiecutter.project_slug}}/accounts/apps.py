from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Accounts: signup, login and logout pages, and login required for websockets."""

    name = "accounts"
