from django.apps import AppConfig


class TransparencyConfig(AppConfig):
    name = "requests_app.transparency"
    label = "transparency"
    verbose_name = "Transparency report"
