"""Signals around a dump and a load, for a project's own code.

Sent by the Python API (so by the commands, the admin and any caller), each
with ``sender`` the function that runs the operation (:func:`diskette.api.dump`
or :func:`diskette.api.load`):

``pre_dump(plan)``
    The dump is planned and checked, nothing is read or written yet.
``post_dump(result)``
    The archive is published (before the destination is pruned, with ``prune``).
``dump_failed(error)``
    The dump stopped: ``error`` is what it raised (an interrupt too).
``pre_load(archive, options)``
    The options are checked, nothing is read or changed yet.
``post_load(result)``
    After the commit and after the storages were swapped in: the site is the
    archive's.
``load_failed(archive, error)``
    The load stopped: ``error`` is what it raised; the site is as before, or, past
    the commit, as after (the error says which).

A receiver of a ``pre_`` signal that raises stops the operation before it
starts, with :class:`~diskette.exceptions.ReceiverError` naming the receiver. A
receiver of a ``post_`` or ``_failed`` signal that raises is reported as a
warning (in the result's warnings too, for ``post_dump``): it never undoes a
dump or a load that is done, nor hides the error of one that failed.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

from diskette.exceptions import ReceiverError
from diskette.reporter import Reporter

pre_dump = Signal()
post_dump = Signal()
dump_failed = Signal()
pre_load = Signal()
post_load = Signal()
load_failed = Signal()

_NAMES = {
    id(pre_dump): "pre_dump",
    id(post_dump): "post_dump",
    id(dump_failed): "dump_failed",
    id(pre_load): "pre_load",
    id(post_load): "post_load",
    id(load_failed): "load_failed",
}


def receiver_name(receiver: Any) -> str:
    """``module.qualified_name`` of a receiver, as messages name it."""
    module = getattr(receiver, "__module__", None) or "?"
    name = getattr(receiver, "__qualname__", None) or repr(receiver)
    return f"{module}.{name}"


def _failures(signal: Signal, sender: Any, arguments: dict[str, Any]) -> list[str]:
    """Send ``signal`` to every receiver; one line per receiver that raised."""
    label = _NAMES.get(id(signal), "signal")
    return [
        f"{label} receiver {receiver_name(receiver)} raised "
        f"{type(response).__name__}: {response}"
        for receiver, response in signal.send_robust(sender, **arguments)
        if isinstance(response, Exception)
    ]


def send_before(signal: Signal, sender: Any, what: str, **arguments: Any) -> None:
    """Send a ``pre_`` signal; ReceiverError (nothing done) when a receiver raised.

    ``what`` names the operation in the message (``"the dump"``).
    """
    failures = _failures(signal, sender, arguments)
    if failures:
        raise ReceiverError(f"{'; '.join(failures)}: {what} was not started")


def send_after(
    signal: Signal, sender: Any, reporter: Reporter, **arguments: Any
) -> list[str]:
    """Send a ``post_`` or ``_failed`` signal; warn of each receiver that raised,
    and return those warnings."""
    failures = _failures(signal, sender, arguments)
    for failure in failures:
        reporter.warning(failure)
    return failures
