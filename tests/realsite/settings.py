"""Settings of the second test project: real third-party apps from PyPI.

The sandbox has only Django's own models; this project has what real sites install
(django-polymorphic, django-mptt, django-treebeard, django-taggit, django-guardian
with a custom user model, django-reversion) so that a round trip proves diskette
exact on data it did not write itself. It runs in its own pytest process (see
``conftest.py``).

Each vendor has two databases: a *source* that is seeded and dumped, and a
*target* that the archive is loaded into. When ``tests/pgcluster.py`` has started
a throwaway PostgreSQL cluster (``DISKETTE_TEST_PGPORT`` and friends are set), the
``postgres`` and ``postgres_target`` aliases point at two databases of it.
"""

import os

SECRET_KEY = "realsite-only-not-secret"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["localhost"]

# The local apps come after the third-party ones, as in most projects: with the
# definitions in this order, guardian's, reversion's and the catalog's foreign
# keys to the custom user point forward, to a data file that is loaded later.
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "polymorphic",
    "mptt",
    "treebeard",
    "taggit",
    "guardian",
    "reversion",
    "diskette",
    "tests.realsite.catalog",
    "tests.realsite.accounts",
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    "target": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}
if os.environ.get("DISKETTE_TEST_PGPORT"):
    _server = {
        "ENGINE": "django.db.backends.postgresql",
        "USER": os.environ["DISKETTE_TEST_PGUSER"],
        "HOST": os.environ["DISKETTE_TEST_PGHOST"],
        "PORT": os.environ["DISKETTE_TEST_PGPORT"],
    }
    DATABASES["postgres"] = {
        **_server,
        "NAME": "diskette",
        "TEST": {"NAME": "test_realsite"},
    }
    DATABASES["postgres_target"] = {
        **_server,
        "NAME": "diskette",
        "TEST": {"NAME": "test_realsite_target"},
    }

# Checks that need no database (guardian, mptt, treebeard) read and write through
# the default alias; the tests pin them to one database with this router.
DATABASE_ROUTERS = ["tests.realsite.routers.PinnedRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "America/New_York"
LANGUAGE_CODE = "en"

TAGGIT_CASE_INSENSITIVE = True

# What a project of these apps dumps, one definition per application in
# INSTALLED_APPS order. Content types and permissions are created by migrate in
# every database (under other ids): they are referred to by natural key and not
# dumped.
DISKETTE_APPS = [
    [
        "django.contrib.auth",
        {"comments": "groups", "natural_foreign": True, "models": ["auth.Group"]},
    ],
    ["taggit", {"comments": "Taggit", "natural_foreign": True, "models": ["taggit"]}],
    [
        "guardian",
        {
            "comments": "Django Guardian",
            "natural_foreign": True,
            "models": ["guardian"],
        },
    ],
    [
        "reversion",
        {"comments": "Reversion", "natural_foreign": True, "models": ["reversion"]},
    ],
    [
        "tests.realsite.catalog",
        {"comments": "Catalog", "natural_foreign": True, "models": ["catalog"]},
    ],
    [
        "tests.realsite.accounts",
        {"comments": "Accounts", "natural_foreign": True, "models": ["accounts"]},
    ],
]
DISKETTE_STORAGES = []
