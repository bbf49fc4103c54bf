"""diskette for a production site, where a load must be impossible by accident.

Install ``"diskette.production"`` in ``INSTALLED_APPS`` instead of ``"diskette"``:
the dump, inspect, list, prune, keys, apps and recover commands are the same,
while ``diskette_load`` refuses in one line that names the setting, and every
admin action that would load is gone (:func:`loads_enabled`). The Python API is
unchanged: code that calls :func:`diskette.api.load` on purpose still can.
"""

from __future__ import annotations

from django.apps import apps

#: The app a production site installs in place of ``"diskette"``.
PRODUCTION_APP = "diskette.production"


def loads_enabled() -> bool:
    """Whether this site's commands and admin may load archives: not when it
    installs :data:`PRODUCTION_APP`."""
    return not apps.is_installed(PRODUCTION_APP)
