"""diskette: dump and load a Django site's data and media as one verifiable archive."""

__version__ = "0.7.0.dev0"

__all__ = ["__version__", "dump", "inspect", "load"]


def __getattr__(name: str):
    """Expose the API lazily, so that importing diskette never imports Django models."""
    if name in ("dump", "load", "inspect"):
        from diskette import api

        return getattr(api, name)
    raise AttributeError(f"module 'diskette' has no attribute {name!r}")
