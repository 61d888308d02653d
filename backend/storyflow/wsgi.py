"""WSGI entry point. Serve it with ONE process: the TaskManager lives in it."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyflow.settings")
application = get_wsgi_application()
