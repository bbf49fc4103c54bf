"""Sphinx configuration of the diskette documentation.

The version comes from the package itself (``diskette.__version__``), the one
place it is written.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import diskette  # noqa: E402

project = "diskette"
author = "diskette contributors"
copyright = "diskette contributors"
release = diskette.__version__
version = ".".join(release.split(".")[:2])

extensions = []

root_doc = "index"
exclude_patterns = ["_build"]
nitpicky = True
highlight_language = "none"

html_theme = "furo"
html_title = f"diskette {release}"
