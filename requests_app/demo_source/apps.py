from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoSourceConfig(AppConfig):
    """The demonstration platform directory: installed in development and tests only."""

    name = "requests_app.demo_source"
    label = "demo_source"
    verbose_name = _("Demonstration platform directory")
