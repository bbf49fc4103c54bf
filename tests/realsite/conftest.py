"""The realsite project's fixtures; it runs in a pytest process of its own.

Its settings differ from the sandbox's (other apps, a custom user model), so the
main run leaves this directory out (``--ignore`` in pyproject.toml) and a second
run takes it, without the conftest above (which imports the sandbox)::

    pytest --ds=tests.realsite.settings --confcutdir=tests/realsite tests/realsite

``make test`` runs both. The PostgreSQL cluster of ``tests/pgcluster.py`` gives it
the ``postgres`` and ``postgres_target`` aliases; under
``DISKETTE_TEST_REQUIRE_POSTGRES=1`` a cluster that cannot start is an error.
"""

from __future__ import annotations

import os

import pytest

SETTINGS = "tests.realsite.settings"

# Checked before anything imports the project's models, which the sandbox's
# settings do not install.
if os.environ.get("DJANGO_SETTINGS_MODULE") != SETTINGS:
    raise pytest.UsageError(
        f"tests/realsite needs its own settings: run pytest --ds={SETTINGS} "
        "--confcutdir=tests/realsite tests/realsite"
    )

from django.contrib.contenttypes.models import ContentType  # noqa: E402

from tests.realsite.trips import RoundTrip, prepare, vendor_aliases  # noqa: E402


@pytest.fixture(autouse=True)
def forget_content_types():
    """Content types are cached per alias, and a test's rows are rolled back: a
    cache kept from another test (renumbered content types) would be wrong."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


@pytest.fixture(params=["sqlite", "postgresql"])
def vendor(request) -> tuple[str, str]:
    """``(source, target)`` aliases of SQLite, then of PostgreSQL."""
    return vendor_aliases(request.param)


@pytest.fixture(params=[False, True], ids=["fresh", "flush"])
def round_trip(request, vendor, tmp_path) -> RoundTrip:
    """A seeded source, and a target freshly migrated (``fresh``) or holding
    leftovers that a ``flush=True`` load must remove (``flush``)."""
    source, target = vendor
    return prepare(source, target, request.param, tmp_path)
