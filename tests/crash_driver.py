"""Run a sandbox management command that stops at a chosen moment of a load.

``python -m tests.crash_driver [--pause POINT --release FILE] -- COMMAND ARGS``
runs ``COMMAND`` on the sandbox site of ``SANDBOX_VAR``, with a second storage,
``uploads``, beside ``media``. With ``--pause``, one internal step of the load is
wrapped: when the load reaches ``POINT`` it prints ``AT POINT`` on stdout and
waits until ``FILE`` exists (at most :data:`LONGEST_PAUSE` seconds, then goes on
by itself), so that a test can send it a real signal exactly there.

Points, in the order a load meets them:

``data``
    inside the transaction, before the second data file is read (the first one's
    rows are written, nothing is committed);
``marker``
    the journal is written and its marker row inserted, the commit not yet done;
``commit``
    committed, no storage swapped yet;
``rename``
    the first storage's previous directory renamed aside, the staged one not yet in;
``swaps``
    the first storage swapped in, the second not yet;
``merge``
    (``--storages-mode merge``) some files of the first storage moved in, not all.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import pathlib
import signal
import sys
import time
from pathlib import Path

#: Seconds a paused load waits for its release file before going on by itself.
LONGEST_PAUSE = 10.0
#: Files a merge moves in before the ``merge`` point.
MERGED_BEFORE_PAUSE = 2
POINTS = ("data", "marker", "commit", "rename", "swaps", "merge")


def configure_site() -> None:
    """Give the sandbox settings a second storage, before Django reads them."""
    import sandbox.settings as site

    site.DISKETTE_STORAGES = [site.MEDIA_ROOT, site.VAR_DIR / "uploads"]


def pause(point: str, release: Path) -> None:
    """Say where the load is, then wait to be signalled or released."""
    sys.stdout.write(f"AT {point}\n")
    sys.stdout.flush()
    deadline = time.monotonic() + LONGEST_PAUSE
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def _on_call(module, name: str, number: int, point: str, release: Path) -> None:
    """Pause at the start of call ``number`` of ``module.name``."""
    original = getattr(module, name)
    calls = 0

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == number:
            pause(point, release)
        return original(*args, **kwargs)

    setattr(module, name, wrapper)


def _after_call(module, name: str, point: str, release: Path) -> None:
    """Pause right after the first call of ``module.name`` returns."""
    original = getattr(module, name)
    done = False

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        nonlocal done
        result = original(*args, **kwargs)
        if not done:
            done = True
            pause(point, release)
        return result

    setattr(module, name, wrapper)


def _inside(module, name: str, method: str, after: int, point: str, release: Path):
    """Pause after ``after`` calls of ``Path.<method>`` made by ``module.name``."""
    inside = False
    calls = 0
    original = getattr(module, name)
    path_method = getattr(pathlib.Path, method)

    @functools.wraps(original)
    def outer(*args, **kwargs):
        nonlocal inside
        inside = True
        try:
            return original(*args, **kwargs)
        finally:
            inside = False

    @functools.wraps(path_method)
    def counted(self, *args, **kwargs):
        nonlocal calls
        result = path_method(self, *args, **kwargs)
        if inside:
            calls += 1
            if calls == after:
                pause(point, release)
        return result

    setattr(module, name, outer)
    setattr(pathlib.Path, method, counted)


def _module_with(name: str, *modules: str):
    """The first of ``modules`` that defines ``name`` (the commit step's module).

    Imported by name: the step has lived in either module.
    """
    for module in modules:
        try:
            found = importlib.import_module(module)
        except ImportError:
            continue
        if hasattr(found, name):
            return found
    raise SystemExit(f"none of {', '.join(modules)} defines {name!r}")


def install(point: str, release: Path) -> None:
    """Wrap the one step of the load where ``point`` is."""
    import diskette.loading.loader
    import diskette.restore.swaps

    commit = _module_with("_swap_in", "diskette.api.commit", "diskette.api.loading")
    if point == "data":
        _on_call(diskette.loading.loader, "_load_one", 2, point, release)
    elif point == "marker":
        _after_call(commit, "insert_marker", point, release)
    elif point == "commit":
        _on_call(commit, "_swap_in", 1, point, release)
    elif point == "rename":
        _inside(diskette.restore.swaps, "_replace", "rename", 1, point, release)
    elif point == "swaps":
        _on_call(diskette.restore.swaps, "_replace", 2, point, release)
    elif point == "merge":
        _inside(
            diskette.restore.swaps,
            "_merge",
            "replace",
            MERGED_BEFORE_PAUSE,
            point,
            release,
        )
    else:
        raise SystemExit(f"unknown point {point!r}: use one of {', '.join(POINTS)}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pause", choices=POINTS)
    parser.add_argument("--release", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    # A shell running the tests in the background may have SIGINT ignored for its
    # children: give it back the handler that raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox.settings")
    configure_site()
    import django

    django.setup()
    if options.pause:
        install(options.pause, options.release)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *command])


if __name__ == "__main__":
    main(sys.argv[1:])
