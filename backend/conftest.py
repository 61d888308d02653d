"""Fixtures shared by every test: an isolated MEDIA_ROOT, a DRF API client, the real model.

``installed_model`` makes sure the real Kokoro-82M int8 model is in
settings.TTS_MODELS_DIR by running ``install_model`` (idempotent: a sha256 check
when already there). Real-model tests never skip: a missing model is installed,
and a failure to install is a test error.
"""
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from core_engine.model_loader import KokoroModelLoader

# Servers and commands the tests start as subprocesses do not calibrate the engine either.
os.environ["STORYFLOW_ENGINE_CALIBRATION"] = "0"


@pytest.fixture(autouse=True)
def no_engine_calibration(settings):
    """No test pays the engine's first-use calibration (~30 s) unless it asks for it:
    the model loads as one session of the bundled int8 variant. Calibration has its own tests."""
    settings.STORYFLOW_ENGINE_CALIBRATION = False
    settings.STORYFLOW_MODEL_VARIANT = ""
    settings.STORYFLOW_TTS_SESSIONS = 0


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test writes generated audio under its own temporary MEDIA_ROOT."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def api_client() -> APIClient:
    """An in-process DRF client (JSON by default)."""
    client = APIClient()
    client.default_format = "json"
    return client


@pytest.fixture(scope="session")
def installed_model() -> Path:
    """Install (or verify) the bundled model in the real TTS_MODELS_DIR; returns the folder."""
    from django.conf import settings

    call_command("install_model", verbosity=0)
    KokoroModelLoader.reset()
    files = KokoroModelLoader.resolve_model_files()
    assert files is not None, "install_model ran but no model/voices pair resolves"
    return Path(settings.TTS_MODELS_DIR)
