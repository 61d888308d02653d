"""Fixtures shared by every test: an isolated MEDIA_ROOT and a DRF API client."""
import pytest
from rest_framework.test import APIClient


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
