from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # TOTP seeds are sealed in the database and opened only when a code is checked.
        from . import totp_seeds

        totp_seeds.install()
