"""The REST API: projects, segments, settings, voices, import, audio generation and task status."""
