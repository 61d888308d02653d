"""Fixtures for the core_engine tests.

``installed_model`` (the real model) lives in backend/conftest.py, shared with the API tests.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from core_engine.model_loader import KokoroModelLoader


@pytest.fixture
def tmp_models_dir(settings, tmp_path) -> Path:
    """An empty models folder set as settings.TTS_MODELS_DIR; the loader cache is reset around the test."""
    models = tmp_path / "models"
    models.mkdir()
    settings.TTS_MODELS_DIR = models
    KokoroModelLoader.reset()
    yield models
    KokoroModelLoader.reset()
