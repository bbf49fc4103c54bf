"""Settings of the third test project: a real Wagtail site.

Laid out as ``wagtail start`` lays a project out (the local app first, then
Wagtail's apps, modelcluster, taggit and Django's contrib apps), so that the
definitions ``diskette_apps`` generates for it come in the order a real Wagtail
site gets: ``home``'s pages and site settings point forward to ``wagtailcore``.
It runs in its own pytest process (see ``conftest.py``), on Django 5.2 only.

Everything the site writes lives under ``WAGTAILSITE_VAR`` (the tests give each
site a directory of its own): the SQLite database and the media directory. With
``WAGTAILSITE_PGDATABASE`` set, the database is that PostgreSQL database instead,
on the server ``WAGTAILSITE_PGHOST``/``PGPORT``/``PGUSER`` name.
"""

import os
from pathlib import Path

SITE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("WAGTAILSITE_VAR", SITE_DIR / "var")).resolve()

SECRET_KEY = "wagtailsite-only-not-secret"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["localhost"]

INSTALLED_APPS = [
    "tests.wagtailsite.home",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "diskette",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "tests.wagtailsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wagtail.contrib.settings.context_processors.settings",
            ],
        },
    },
]

if os.environ.get("WAGTAILSITE_PGDATABASE"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["WAGTAILSITE_PGDATABASE"],
            "USER": os.environ.get("WAGTAILSITE_PGUSER", ""),
            "HOST": os.environ.get("WAGTAILSITE_PGHOST", ""),
            "PORT": os.environ.get("WAGTAILSITE_PGPORT", ""),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # A throwaway test site: no fsync at each commit.
            "OPTIONS": {"init_command": "PRAGMA synchronous=OFF"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"

# Workflow notifications are mailed: kept in memory, never sent.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

WAGTAIL_SITE_NAME = "wagtailsite"
WAGTAILADMIN_BASE_URL = "http://localhost"
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
# Wagtail updates its indexes through django-tasks, right away here (see why this
# backend and not django-tasks' own in its module).
TASKS = {
    "default": {"BACKEND": "tests.wagtailsite.home.tasks_backend.ImmediateBackend"}
}
WAGTAILDOCS_EXTENSIONS = ["csv", "pdf", "txt"]

# diskette: the definitions are not written here. The tests (and a user following
# the README) generate them with ``diskette_apps --drain`` and pass the file to
# ``diskette_dump --appconf``.
DISKETTE_STORAGES = [MEDIA_ROOT]
DISKETTE_STORAGES_BASEPATH = VAR_DIR
DISKETTE_LOAD_STORAGES_PATH = VAR_DIR
DISKETTE_DUMP_PATH = VAR_DIR / "dumps"
