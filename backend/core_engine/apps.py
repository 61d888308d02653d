from django.apps import AppConfig


class CoreEngineConfig(AppConfig):
    """The TTS engine app; a Django app only so that it can ship `install_model`."""

    name = "core_engine"
    verbose_name = "TTS engine"
