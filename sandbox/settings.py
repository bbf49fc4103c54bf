"""Settings of the sandbox project that the demo and the tests run diskette on.

Everything the project writes lives under ``SANDBOX_VAR`` (default
``sandbox/var``, git-ignored): the SQLite database and the media directory. Set
``SANDBOX_VAR`` to another directory to get a second, independent site, as the
demo does to load an archive into a fresh database. Set ``SANDBOX_DB_ENGINE=postgresql``
(with the usual ``PGHOST``/``PGPORT``/``PGDATABASE``/``PGUSER``/``PGPASSWORD``)
to run the sandbox on PostgreSQL.
"""

import os
from pathlib import Path

SANDBOX_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("SANDBOX_VAR", SANDBOX_DIR / "var")).resolve()

SECRET_KEY = "sandbox-only-not-secret"  # noqa: S105
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sites",
    "diskette",
    "sandbox.library",
]
# SANDBOX_PRODUCTION=1 installs diskette as a production site does: no loads
# ("both" installs the two, which Django must refuse).
if os.environ.get("SANDBOX_PRODUCTION") == "1":
    INSTALLED_APPS[INSTALLED_APPS.index("diskette")] = "diskette.production"
elif os.environ.get("SANDBOX_PRODUCTION") == "both":
    INSTALLED_APPS.append("diskette.production")

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "sandbox.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

if os.environ.get("SANDBOX_DB_ENGINE") == "postgresql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("PGDATABASE", "diskette_sandbox"),
            "USER": os.environ.get("PGUSER", ""),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "HOST": os.environ.get("PGHOST", ""),
            "PORT": os.environ.get("PGPORT", ""),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "Europe/Paris"
LANGUAGE_CODE = "en"
SITE_ID = 1

STATIC_URL = "/static/"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"

# diskette: dump the sample app with natural keys, users and sites, and drain the rest.
DISKETTE_APPS = [
    [
        "django.contrib.auth",
        {
            "comments": "users and groups; permissions come from migrations",
            "natural_foreign": True,
            "models": ["auth.Group", "auth.User"],
        },
    ],
    ["django.contrib.sites", {"natural_foreign": True, "models": "sites"}],
    ["library", {"natural_foreign": True, "models": ["library"]}],
    [
        "everything else",
        {
            "is_drain": True,
            "natural_foreign": True,
            "excludes": [
                "contenttypes",
                "auth.Permission",
                "sessions",
            ],
        },
    ],
]
DISKETTE_STORAGES = [MEDIA_ROOT]
DISKETTE_STORAGES_EXCLUDES = ["cache/*", "*.tmp", "**/.DS_Store"]
DISKETTE_STORAGES_BASEPATH = VAR_DIR
# SANDBOX_DUMPS points a second site at the first one's archives (make demo).
DISKETTE_DUMP_PATH = Path(os.environ.get("SANDBOX_DUMPS", VAR_DIR / "dumps"))
DISKETTE_LOAD_STORAGES_PATH = VAR_DIR

# django-dbbackup, a peer of the benchmark's PostgreSQL case (tests/benchmarks):
# SANDBOX_DBBACKUP=1 adds its app, with its "dbbackup" storage under SANDBOX_VAR.
# It is installed in the benchmark's environment only, never a dependency.
if os.environ.get("SANDBOX_DBBACKUP") == "1":
    INSTALLED_APPS = [*INSTALLED_APPS, "dbbackup"]
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
        "dbbackup": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": VAR_DIR / "dbbackup"},
        },
    }

# An archive destination on an S3 server, for the tests (tests/destinations):
# set SANDBOX_S3_BUCKET (and SANDBOX_S3_ENDPOINT_URL, SANDBOX_S3_ACCESS_KEY,
# SANDBOX_S3_SECRET_KEY, SANDBOX_S3_LOCATION) to get the alias "sandbox_s3",
# which uploads in 5 MiB parts, one at a time.
if os.environ.get("SANDBOX_S3_BUCKET"):
    from boto3.s3.transfer import TransferConfig

    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
        **globals().get("STORAGES", {}),
        "sandbox_s3": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": os.environ["SANDBOX_S3_BUCKET"],
                "endpoint_url": os.environ.get("SANDBOX_S3_ENDPOINT_URL"),
                "access_key": os.environ.get("SANDBOX_S3_ACCESS_KEY"),
                "secret_key": os.environ.get("SANDBOX_S3_SECRET_KEY"),
                "region_name": os.environ.get("SANDBOX_S3_REGION", "us-east-1"),
                "location": os.environ.get("SANDBOX_S3_LOCATION", ""),
                "transfer_config": TransferConfig(
                    multipart_threshold=5 * 1024 * 1024,
                    multipart_chunksize=5 * 1024 * 1024,
                    max_concurrency=1,
                ),
            },
        },
    }
