"""Settings for the test suite: the sandbox, with fast password hashing.

When ``tests/pgcluster.py`` has started a throwaway PostgreSQL cluster, it sets
``DISKETTE_TEST_PGPORT`` (and host, user) and a second database alias,
``postgres``, points at it.
"""

import os

from sandbox.settings import *  # noqa: F403
from sandbox.settings import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if os.environ.get("DISKETTE_TEST_PGPORT"):
    DATABASES = {
        **DATABASES,
        "postgres": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "diskette",
            "USER": os.environ["DISKETTE_TEST_PGUSER"],
            "HOST": os.environ["DISKETTE_TEST_PGHOST"],
            "PORT": os.environ["DISKETTE_TEST_PGPORT"],
            "TEST": {"NAME": "test_diskette"},
        },
    }
