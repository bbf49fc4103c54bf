"""The diskette_prune command: what it keeps (and why) and deletes, the question,
``--dry-run``, ``--noinput``, ``--json``, the setting, and a backend failing
half-way. A file not written by diskette is never deleted."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command

from diskette.destinations import LocalDestination, StorageDestination
from diskette.destinations.sidecar import sidecar_name
from tests.destinations.dict_backend import DictBackend
from tests.destinations.test_archives_api import (
    FILESYSTEM,
    FOREIGN,
    MIDDLE,
    NEW,
    OLD,
    three_archives_and_a_foreign_file,
)

EVERYTHING = sorted(
    [OLD, MIDDLE, NEW, *(sidecar_name(name) for name in (OLD, MIDDLE, NEW)), FOREIGN]
)
#: What ``--keep 1`` leaves.
NEWEST_AND_FOREIGN = sorted([NEW, sidecar_name(NEW), FOREIGN])


def run(*args: str, **options) -> str:
    out = StringIO()
    call_command("diskette_prune", *args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def dumps(tmp_path, settings) -> LocalDestination:
    settings.DISKETTE_DUMP_PATH = str(tmp_path / "dumps")
    settings.DISKETTE_ARCHIVE_STORAGE = None
    destination = LocalDestination(tmp_path / "dumps")
    three_archives_and_a_foreign_file(destination)
    return destination


@pytest.fixture
def answer(monkeypatch):
    """Answer the question with ``answer.text``; ``answer.asked`` is the prompt."""

    class Answer:
        text: str | None = "yes"
        asked: list[str] = []

    def fake_input(prompt: str) -> str:
        Answer.asked.append(prompt)
        if Answer.text is None:
            raise EOFError
        return Answer.text

    monkeypatch.setattr("builtins.input", fake_input)
    return Answer


def test_a_dry_run_shows_what_is_kept_and_why_and_deletes_nothing(dumps, answer):
    lines = run("--keep", "1", "--keep-daily", "2", "--dry-run").splitlines()

    assert lines == [
        f"keep     {NEW}: keep_last (1 of 1), daily (2026-12-01)",
        f"keep     {MIDDLE}: daily (2026-11-25)",
        f"delete   {OLD} (and its sidecar)",
        f"leave    {FOREIGN}: not written by diskette",
        "dry run: nothing was deleted (1 archive and 1 sidecar would be)",
    ]
    assert sorted(dumps.list()) == EVERYTHING
    assert answer.asked == []


def test_it_asks_then_deletes_only_diskette_archives(dumps, answer):
    lines = run("--keep", "1").splitlines()

    assert answer.asked == [
        "This deletes 2 archives and 2 sidecars from DISKETTE_ARCHIVE_STORAGE. "
        "Type 'yes' to continue: "
    ]
    assert lines[1:3] == [
        f"delete   {OLD} (and its sidecar)",
        f"delete   {MIDDLE} (and its sidecar)",
    ]
    assert lines[-1] == "deleted 2 archives and 2 sidecars"
    assert sorted(dumps.list()) == NEWEST_AND_FOREIGN  # the foreign .tar.gz stays


@pytest.mark.parametrize("reply", ["no", "", None])
def test_any_other_answer_cancels(dumps, answer, reply):
    answer.text = reply
    with pytest.raises(CommandError) as raised:
        run("--keep", "1")
    assert raised.value.returncode == 2
    assert str(raised.value) == "prune cancelled: nothing was deleted"
    assert sorted(dumps.list()) == EVERYTHING


def test_noinput_deletes_without_asking(dumps, answer):
    lines = run("--keep", "1", "--noinput").splitlines()

    assert answer.asked == []
    assert lines == [
        f"keep     {NEW}: keep_last (1 of 1)",
        f"deleted  {OLD} (and its sidecar)",
        f"deleted  {MIDDLE} (and its sidecar)",
        f"leave    {FOREIGN}: not written by diskette",
        "deleted 2 archives and 2 sidecars",
    ]
    assert sorted(dumps.list()) == NEWEST_AND_FOREIGN


def test_even_a_rule_that_keeps_nothing_leaves_a_foreign_file(dumps):
    run("--older-than", "1s", "--noinput")
    assert dumps.list() == [FOREIGN]


def test_json_with_noinput(dumps):
    payload = json.loads(run("--keep", "2", "--noinput", "--json"))

    assert payload["deleted"] == [OLD, sidecar_name(OLD)]
    assert payload["kept"][1] == {"archive": MIDDLE, "reasons": ["keep_last (2 of 2)"]}
    assert payload["ignored"] == [FOREIGN]
    assert payload["dry_run"] is False and payload["error"] is None


def test_json_cannot_ask(dumps, answer):
    with pytest.raises(CommandError) as raised:
        run("--keep", "1", "--json")
    assert raised.value.returncode == 2
    assert "--noinput" in str(raised.value)
    assert sorted(dumps.list()) == EVERYTHING


def test_without_rules_the_setting_applies(dumps, settings):
    settings.DISKETTE_RETENTION = {"keep_last": 2}
    run("--noinput")
    assert OLD not in dumps.list() and MIDDLE in dumps.list()


def test_without_rules_or_setting_it_says_so(dumps, settings):
    settings.DISKETTE_RETENTION = None
    with pytest.raises(CommandError) as raised:
        run("--noinput")
    assert raised.value.returncode == 3
    assert "DISKETTE_RETENTION is not set" in str(raised.value)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--older-than", "30days"), "--older-than '30days' is not a duration"),
        (("--max-size", "2G"), "--max-size '2G' is not a size"),
        (("--keep", "0"), "--keep 0 is not a positive whole number"),
        (("--keep-weekly", "-1"), "--keep-weekly -1 is not a positive whole number"),
    ],
)
def test_a_wrong_option_value_names_the_option(dumps, args, words):
    with pytest.raises(CommandError) as raised:
        run(*args, "--noinput")
    assert raised.value.returncode == 3
    assert words in str(raised.value)
    assert sorted(dumps.list()) == EVERYTHING


def test_from_prunes_a_storages_alias(dumps, tmp_path, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": FILESYSTEM,
            "OPTIONS": {"location": str(tmp_path / "b")},
        },
    }
    backups = StorageDestination(storages["backups"])
    three_archives_and_a_foreign_file(backups)

    run("--from", "backups", "--keep", "1", "--noinput")

    assert sorted(backups.list()) == NEWEST_AND_FOREIGN
    assert sorted(dumps.list()) == EVERYTHING  # the default destination is untouched


def test_a_backend_failing_half_way_says_what_was_and_was_not_deleted(settings):
    backend = DictBackend(fail_on_delete=3)  # the third delete: MIDDLE
    three_archives_and_a_foreign_file(backend)
    settings.DISKETTE_ARCHIVE_STORAGE = backend

    with pytest.raises(CommandError) as raised:
        run("--keep", "1", "--noinput")

    assert raised.value.returncode == 40
    assert str(raised.value) == (
        f"the prune stopped: deleting {MIDDLE!r} failed (PermissionError: [Errno 13] "
        f"Permission denied: {MIDDLE!r}); deleted 2 ({OLD!r}, "
        f"{sidecar_name(OLD)!r}); not deleted 2 ({MIDDLE!r}, "
        f"{sidecar_name(MIDDLE)!r}): fix the cause and prune again"
    )
    assert FOREIGN in backend.files and MIDDLE in backend.files
