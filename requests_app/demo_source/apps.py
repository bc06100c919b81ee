from django.apps import AppConfig


class DemoSourceConfig(AppConfig):
    """The demonstration platform directory: installed in development and tests only."""

    name = "requests_app.demo_source"
    label = "demo_source"
    verbose_name = "Demonstration platform directory"
