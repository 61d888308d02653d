"""Django settings for StoryFlow, a local narration studio.

Everything runs on embedded defaults: SQLite in the repository root, generated
audio under ``media/``, model files under ``models/``. Environment overrides:
``STORYFLOW_DB_PATH``, ``STORYFLOW_TEST_DB_PATH``, ``STORYFLOW_MEDIA_ROOT``,
``STORYFLOW_MODELS_DIR``, ``STORYFLOW_TASK_CLEANUP_THRESHOLD`` (seconds),
``STORYFLOW_TASK_RETENTION_SECONDS``, ``STORYFLOW_SSE_HEARTBEAT_SECONDS``,
``STORYFLOW_RESUME_TASKS`` (1/0, read by runserver), ``STORYFLOW_LOG_LEVEL``, ``STORYFLOW_DEBUG`` (1/0), ``STORYFLOW_SECRET_KEY``,
``STORYFLOW_ALLOWED_ORIGINS`` (comma-separated web origins allowed to write, besides the API's own),
``STORYFLOW_MODEL_VARIANT``, ``STORYFLOW_TTS_SESSIONS``, ``STORYFLOW_TTS_THREADS``, ``STORYFLOW_ENGINE_CALIBRATION`` (1/0),
``STORYFLOW_INT8_CONV_GEMM`` (auto/1/0), ``STORYFLOW_SYNTHESIS`` (local/celery), ``STORYFLOW_BROKER_URL``,
``STORYFLOW_BROKER_VISIBILITY_TIMEOUT``, ``STORYFLOW_REMOTE_WINDOW``, ``STORYFLOW_WORKER_SYNTHESIZE``, ``STORYFLOW_ONNX_PROVIDER``,
``STORYFLOW_AUDIO_CACHE_MAX_BYTES``, ``STORYFLOW_REQUEST_NICE``.
"""
import os
from pathlib import Path

# Repository root (the folder holding manage.py); backend/ is BASE_DIR / "backend".
BASE_DIR = Path(__file__).resolve().parent.parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(f"STORYFLOW_{name}", default)


SECRET_KEY = _env("SECRET_KEY", "storyflow-local-only-not-secret")
DEBUG = _env("DEBUG", "1") == "1"
# A local tool: it listens on loopback only.
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
# Web origins whose pages may change data, besides the API's own (api.middleware.CrossSiteWriteGuard):
# the editor's. Comma-separated, e.g. "http://127.0.0.1:3000,http://localhost:3000".
STORYFLOW_ALLOWED_ORIGINS = [
    o.strip() for o in _env("ALLOWED_ORIGINS", "http://127.0.0.1:3000,http://localhost:3000").split(",") if o.strip()
]
# Largest non-file request body, bytes (Django's default, 2.5 MB): over it the API answers 413 JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: api's runserver (which resumes interrupted tasks) must win.
    "api",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    # The OpenAPI 3 schema (/api/schema/) and Swagger UI (/api/docs/) from the sidecar's bundled files: no CDN.
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core_engine",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the body: 413 over the limit, 403 for a write from a foreign web origin.
    "api.middleware.RequestBodyLimit",
    "api.middleware.CrossSiteWriteGuard",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "storyflow.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "storyflow.wsgi.application"

# SQLite, shared by the request threads and the TTS worker thread: WAL lets
# readers go on while the worker writes, and a generous timeout rides out the
# short write locks instead of failing with "database is locked".
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(_env("DB_PATH", str(BASE_DIR / "db.sqlite3"))),
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        # Tests use a file database too (not :memory:) so that the worker
        # thread and the live test server see the same data.
        "TEST": {"NAME": _env("TEST_DB_PATH", str(BASE_DIR / ".test-db.sqlite3"))},
        # Keep each request thread's connection (the server reuses its request threads) for a
        # minute instead of opening one per request: under bench/load_benchmark.py's 100 clients,
        # connect + PRAGMAs + close were ~40 % of the request threads' CPU (py-spy). Same day and
        # CPU (AMD EPYC, 2 cores, avx512_vnni), before -> after: p50 status 22.0 -> 18.7 ms,
        # project list 38.0 -> 25.9 ms; the batch's slowdown under that load stayed 2.0x.
        # Django drops a broken connection before reuse (CONN_HEALTH_CHECKS).
        "CONN_MAX_AGE": int(_env("CONN_MAX_AGE", "60")),
        "CONN_HEALTH_CHECKS": True,
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# Generated audio: <MEDIA_ROOT>/projects/{project_id}/audio/{segment_id}.wav,
# served at /media/... by StoryFlow's own URLconf (see storyflow/urls.py).
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(_env("MEDIA_ROOT", str(BASE_DIR / "media")))

# Model files (see models/README.md and `python manage.py install_model`).
TTS_MODELS_DIR = Path(_env("MODELS_DIR", str(BASE_DIR / "models")))
# Force a model variant ("official", "bundled-int8", "bundled-float32"); "" = the
# official one if present, else the one calibrated fastest on this CPU.
STORYFLOW_MODEL_VARIANT = _env("MODEL_VARIANT", "")
# ONNX Runtime sessions run side by side inside the one task worker (> 0 forces N,
# one thread each when N > 1); 0 = what the engine calibration measured fastest.
STORYFLOW_TTS_SESSIONS = int(_env("TTS_SESSIONS", "0"))
# With STORYFLOW_TTS_SESSIONS: intra-op threads per session (> 0 forces; 0 = 1 each when N > 1).
STORYFLOW_TTS_THREADS = int(_env("TTS_THREADS", "0"))
# Time the model variants and session layouts at first use, once per CPU
# (core_engine/engine_calibration.py; stored in TTS_MODELS_DIR). 0 turns it off.
STORYFLOW_ENGINE_CALIBRATION = _env("ENGINE_CALIBRATION", "1") == "1"
# Run the int8 graph's convolutions as u8 x s8 GEMMs (core_engine/conv_gemm.py):
# "auto" = on CPUs with VNNI only (sample-identical there), "1" always, "0" never.
STORYFLOW_INT8_CONV_GEMM = _env("INT8_CONV_GEMM", "auto")
# Where synthesis runs: "local" (this process, the default) or "celery" (a pool of
# Celery workers behind a Redis broker; workers/ and api/services/remote_synthesis.py).
STORYFLOW_SYNTHESIS = _env("SYNTHESIS", "local")
# Redis URL of the broker and result backend (celery mode). Loopback by default.
STORYFLOW_BROKER_URL = _env("BROKER_URL", "redis://127.0.0.1:6379/0")
# Seconds before Redis redelivers a segment no worker acknowledged (well above the longest segment).
STORYFLOW_BROKER_VISIBILITY_TIMEOUT = int(_env("BROKER_VISIBILITY_TIMEOUT", "3600"))
# Segments a batch keeps queued on the workers at once (celery mode).
STORYFLOW_REMOTE_WINDOW = int(_env("REMOTE_WINDOW", "8"))
# onnxruntime execution provider tried before the CPU (e.g. CUDAExecutionProvider with onnxruntime-gpu).
STORYFLOW_ONNX_PROVIDER = _env("ONNX_PROVIDER", "")
# Workers only: "module:function" used instead of tts_wrapper.synthesize (the tests' fake engine).
STORYFLOW_WORKER_SYNTHESIZE = _env("WORKER_SYNTHESIZE", "")
# Nice value added to each request thread of runserver (api/management/commands/runserver.py).
# 0 (the default) leaves them at synthesis' priority: measured better on a 2-core AMD EPYC
# (see StoryFlowWSGIServer); 10 was better on a 2-core Intel Xeon.
STORYFLOW_REQUEST_NICE = int(_env("REQUEST_NICE", "0"))
# Size cap of the segment audio cache under MEDIA_ROOT/cache/audio (bytes, LRU eviction).
STORYFLOW_AUDIO_CACHE_MAX_BYTES = int(_env("AUDIO_CACHE_MAX_BYTES", str(2 * 1024**3)))

# Finished tasks (COMPLETED, FAILED, CANCELLED) are dropped from the in-memory
# registry this many seconds after they finish (spec 03.02.12).
TASK_CLEANUP_THRESHOLD = int(_env("TASK_CLEANUP_THRESHOLD", "3600"))
# The journal (api/tasks/journal.py) answers a finished task's status for this
# many seconds after it finished, also after the in-memory cleanup and restarts.
TASK_RETENTION_SECONDS = int(_env("TASK_RETENTION_SECONDS", "86400"))
# Idle seconds after which GET /api/tasks/{id}/events/ sends a heartbeat comment.
SSE_HEARTBEAT_SECONDS = float(_env("SSE_HEARTBEAT_SECONDS", "15"))

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    # JSON only: a form-encoded body (what a foreign page's <form> can send) is a 415.
    # Multipart is accepted only where a file is uploaded (POST /api/projects/import/).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # No authentication in StoryFlow (spec constraint 8): a single local user.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "api.exceptions.json_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# drf-spectacular: the schema served at /api/schema/ and committed as openapi.yaml
# (api/tests/test_openapi_schema.py checks the two agree).
SPECTACULAR_SETTINGS = {
    "TITLE": "StoryFlow API",
    "DESCRIPTION": (
        "Local narration studio: projects of ordered segments, text-to-speech tasks with live "
        "progress, and audiobook export. No authentication (a single local user on loopback); "
        "writes from a foreign web origin are refused with 403."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_common_responses",
        "api.schema.add_plain_django_views",  # after: these two document every answer they give
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        # Lines logged while the worker runs a journaled task -> GET /api/tasks/{id}/logs/.
        "task_journal": {"class": "api.tasks.journal.TaskLogHandler", "level": "INFO"},
    },
    "loggers": {
        "api": {"handlers": ["console", "task_journal"], "level": _env("LOG_LEVEL", "INFO")},
        "core_engine": {"handlers": ["console", "task_journal"], "level": _env("LOG_LEVEL", "INFO")},
    },
}
