from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The wiring: installed for its management command (`seed_demo`)."""

    name = "project"
    verbose_name = "Project wiring"
