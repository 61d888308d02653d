from django.apps import AppConfig


class ApiConfig(AppConfig):
    """StoryFlow's data model, REST API and background task system."""

    name = "api"
    verbose_name = "StoryFlow"
