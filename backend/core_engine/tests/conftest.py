"""Fixtures for the core_engine tests.

``installed_model`` makes sure the real Kokoro-82M int8 model is in
settings.TTS_MODELS_DIR by running ``install_model`` (idempotent: a sha256 check
when already there). Real-model tests never skip: a missing model is installed,
and a failure to install is a test error.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from core_engine.model_loader import KokoroModelLoader


@pytest.fixture(scope="session")
def installed_model() -> Path:
    """Install (or verify) the bundled model in the real TTS_MODELS_DIR; returns the folder."""
    from django.conf import settings

    call_command("install_model", verbosity=0)
    KokoroModelLoader.reset()
    files = KokoroModelLoader.resolve_model_files()
    assert files is not None, "install_model ran but no model/voices pair resolves"
    return Path(settings.TTS_MODELS_DIR)


@pytest.fixture
def tmp_models_dir(settings, tmp_path) -> Path:
    """An empty models folder set as settings.TTS_MODELS_DIR; the loader cache is reset around the test."""
    models = tmp_path / "models"
    models.mkdir()
    settings.TTS_MODELS_DIR = models
    KokoroModelLoader.reset()
    yield models
    KokoroModelLoader.reset()
