"""The Python API: :func:`dump` and :func:`load`, the pipelines behind the commands."""

from __future__ import annotations

# ---- dump: owned by the dump pipeline --------------------------------------

# ---- load: owned by the load pipeline --------------------------------------
