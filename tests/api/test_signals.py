"""The signals around a dump and a load, with real receivers: what each gets,
when, and what a raising receiver does (before: stops it; after: a warning)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.contrib.sites.models import Site

from diskette import api, signals
from diskette.exceptions import DumpError, ReceiverError
from diskette.reporter import Reporter
from tests.api.test_api_dump import definition
from tests.archives import make_archive, sites


class Warnings(Reporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, message: str) -> None:
        self.lines.append(message)


@contextmanager
def connected(signal, receiver):
    signal.connect(receiver, weak=False)
    try:
        yield
    finally:
        signal.disconnect(receiver)


def record(into: list, name: str):
    def receiver(sender, signal, **arguments):
        into.append((name, sender, arguments))

    return receiver


def refuse(sender, **arguments):
    raise RuntimeError("not now")


def sites_only():
    return [definition("sites", ["sites.Site"])]


@pytest.mark.django_db
def test_a_dump_sends_pre_then_post_with_its_plan_and_result(tmp_path):
    seen: list = []
    with (
        connected(signals.pre_dump, record(seen, "pre")),
        connected(signals.post_dump, record(seen, "post")),
        connected(signals.dump_failed, record(seen, "failed")),
    ):
        result = api.dump(
            destination=tmp_path, definitions=sites_only(), with_storages=False
        )
    assert [name for name, _, _ in seen] == ["pre", "post"]
    assert all(sender is api.dump for _, sender, _ in seen)
    assert seen[0][2]["plan"].filename == result.name
    assert seen[1][2]["result"] is result
    assert result.path.is_file()


@pytest.mark.django_db
def test_a_raising_pre_dump_receiver_stops_the_dump_before_anything(tmp_path):
    with connected(signals.pre_dump, refuse), pytest.raises(ReceiverError) as caught:
        api.dump(destination=tmp_path, definitions=sites_only(), with_storages=False)
    message = str(caught.value)
    assert (
        "pre_dump receiver tests.api.test_signals.refuse raised RuntimeError" in message
    )
    assert message.endswith("the dump was not started")
    assert caught.value.exit_code == 5
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_a_raising_post_dump_receiver_is_a_warning_and_the_archive_stays(tmp_path):
    reporter = Warnings()
    with connected(signals.post_dump, refuse):
        result = api.dump(
            destination=tmp_path,
            definitions=sites_only(),
            with_storages=False,
            reporter=reporter,
        )
    assert result.path.is_file()
    assert len(reporter.lines) == 1 and "post_dump receiver" in reporter.lines[0]
    assert reporter.lines[0] in result.warnings


@pytest.mark.django_db
def test_a_failed_dump_sends_its_error(tmp_path):
    seen: list = []
    failing = definition("sites", ["sites.Site"], dump_command="check")
    with (
        connected(signals.dump_failed, record(seen, "failed")),
        connected(signals.post_dump, record(seen, "post")),
        pytest.raises(DumpError) as caught,
    ):
        api.dump(destination=tmp_path, definitions=[failing], with_storages=False)
    assert [(name, arguments["error"]) for name, _, arguments in seen] == [
        ("failed", caught.value)
    ]


@pytest.mark.django_db
def test_a_load_sends_pre_then_post_after_the_commit(tmp_path):
    archive = make_archive(tmp_path / "a.tar.gz", data={"s.json": sites((71, "x.org"))})
    seen: list = []

    def after(sender, result, **arguments):
        # Sent after the commit: the rows are there, the result says so.
        seen.append(("post", Site.objects.filter(pk=71).exists(), result.objects))

    with (
        connected(signals.pre_load, record(seen, "pre")),
        connected(signals.post_load, after),
    ):
        result = api.load(archive, with_storages=False)
    assert seen[0][0] == "pre" and seen[0][2]["archive"] == archive
    assert seen[0][2]["options"].with_storages is False
    assert seen[1] == ("post", True, result.objects)


@pytest.mark.django_db
def test_a_raising_pre_load_receiver_changes_nothing(tmp_path):
    archive = make_archive(tmp_path / "a.tar.gz", data={"s.json": sites((72, "y.org"))})
    with connected(signals.pre_load, refuse), pytest.raises(ReceiverError):
        api.load(archive, with_storages=False, flush=True)
    assert Site.objects.filter(pk=72).exists() is False
    assert Site.objects.exists()  # not flushed


@pytest.mark.django_db
def test_a_raising_post_load_receiver_does_not_undo_the_load(tmp_path):
    archive = make_archive(tmp_path / "a.tar.gz", data={"s.json": sites((73, "z.org"))})
    reporter = Warnings()
    with connected(signals.post_load, refuse):
        api.load(archive, with_storages=False, reporter=reporter)
    assert Site.objects.filter(pk=73).exists()
    assert ["post_load receiver" in line for line in reporter.lines] == [True]


@pytest.mark.django_db
def test_a_failed_load_sends_its_error_and_a_raising_receiver_hides_nothing(tmp_path):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not an archive at all")
    seen: list = []
    with (
        connected(signals.load_failed, record(seen, "failed")),
        connected(signals.load_failed, refuse),
        pytest.raises(Exception) as caught,
    ):
        api.load(broken, with_storages=False)
    assert type(caught.value).__name__ == "ArchiveError"
    assert seen == [("failed", api.load, {"archive": broken, "error": caught.value})]
