from django.apps import AppConfig


class ApiConfig(AppConfig):
    """StoryFlow's data model, REST API and background task system."""

    name = "api"
    verbose_name = "StoryFlow"

    def ready(self) -> None:
        from api import signals  # noqa: F401  (connects the media cleanup receivers)
