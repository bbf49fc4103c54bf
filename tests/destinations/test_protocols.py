"""The destination protocols: their methods, the tier guards and the name guard."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from typing import IO

import pytest
from django.core.files.storage import InMemoryStorage

from diskette.destinations import (
    ADVANCED_METHODS,
    MINIMUM_METHODS,
    AdvancedArchiveStorage,
    ArchiveStorage,
    LocalDestination,
    StorageDestination,
    check_destination_name,
    missing_methods,
    requires_advanced_storage,
)
from diskette.destinations.protocols import PARTIAL_PREFIX, is_partial, split_prefix
from diskette.exceptions import ConfigurationError
from tests.conftest import REPO_ROOT
from tests.destinations.memory_backend import MemoryDestination


class MinimumOnly:
    """The five methods of the minimum tier, nothing more."""

    def read(self, path: str) -> IO[bytes]:
        return io.BytesIO(b"")

    def write(self, path: str, content: IO[bytes]) -> None:
        pass

    def list(self, prefix: str = "") -> list[str]:
        return []

    def delete(self, path: str) -> None:
        pass

    def exists(self, path: str) -> bool:
        return False


def protocol_methods(protocol: type) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")}


def test_the_method_tuples_are_the_protocols_methods():
    assert set(MINIMUM_METHODS) == protocol_methods(ArchiveStorage)
    added = protocol_methods(AdvancedArchiveStorage)
    assert set(ADVANCED_METHODS) == set(MINIMUM_METHODS) | added
    assert added == {"open_write", "size", "modified"}


def test_the_built_in_backends_and_a_plain_class_have_the_advanced_tier(tmp_path):
    for backend in (
        LocalDestination(tmp_path),
        StorageDestination(InMemoryStorage()),
        MemoryDestination(),
    ):
        assert isinstance(backend, AdvancedArchiveStorage), backend
        assert missing_methods(backend, ADVANCED_METHODS) == []


def test_five_methods_make_the_minimum_tier_only():
    backend = MinimumOnly()
    assert isinstance(backend, ArchiveStorage)
    assert not isinstance(backend, AdvancedArchiveStorage)
    assert missing_methods(backend) == []
    assert missing_methods(backend, ADVANCED_METHODS) == [
        "open_write",
        "size",
        "modified",
    ]


def test_missing_methods_reads_classes_and_refuses_non_callables():
    assert missing_methods(MinimumOnly) == []
    backend = MinimumOnly()
    backend.exists = True  # type: ignore[method-assign,assignment]
    assert missing_methods(backend) == ["exists"]
    assert missing_methods(object()) == list(MINIMUM_METHODS)


def test_requires_advanced_storage_names_what_is_missing():
    with pytest.raises(ConfigurationError) as caught:
        requires_advanced_storage(MinimumOnly(), "diskette_list --sizes")
    assert str(caught.value) == (
        "diskette_list --sizes needs a destination with open_write, size, modified: "
        "MinimumOnly has not"
    )
    assert caught.value.exit_code == 3
    backend = MemoryDestination()
    assert requires_advanced_storage(backend, "anything") is backend


@pytest.mark.parametrize(
    "name",
    ["diskette.tar.gz", "2026/12/diskette.tar.gz", "a.manifest.json", "é t/ñ.tgz"],
)
def test_relative_posix_names_pass(name):
    assert check_destination_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "is empty"),
        (".", "is empty"),
        ("/etc/passwd", "is an absolute path"),
        ("../up.tar.gz", "goes up a directory"),
        ("a/../../b", "goes up a directory"),
        ("a//b", "is not a normalised path"),
        ("a/./b", "is not a normalised path"),
        ("a\\b", "contains a backslash"),
        ("a\x00b", "contains a NUL"),
        ("a\nb", "contains a control character"),
        ("dir/", "ends with '/'"),
        ("x" * 300, "longer than"),
    ],
)
def test_unsafe_names_are_refused_before_a_backend_sees_them(name, why):
    with pytest.raises(ConfigurationError, match="relative POSIX file name") as caught:
        check_destination_name(name)
    assert why in str(caught.value)


def test_unsafe_names_are_refused_by_every_built_in_backend(tmp_path):
    for backend in (LocalDestination(tmp_path), StorageDestination(InMemoryStorage())):
        for call in (
            lambda b: b.read("../x"),
            lambda b: b.write("/abs", io.BytesIO(b"x")),
            lambda b: b.delete("a//b"),
            lambda b: b.exists("a\\b"),
            lambda b: b.size(""),
            lambda b: b.modified("dir/"),
            lambda b: b.open_write("../x").__enter__(),
            lambda b: b.list("../"),
        ):
            with pytest.raises(ConfigurationError):
                call(backend)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", ("", "")),
        ("diskette", ("", "diskette")),
        ("2026/", ("2026", "")),
        ("2026/12/site", ("2026/12", "site")),
    ],
)
def test_a_list_prefix_is_a_directory_and_the_start_of_names(prefix, expected):
    assert split_prefix(prefix) == expected


@pytest.mark.parametrize("prefix", ["/", "/abs", "../", "a//b", "a\\b", "x\x00"])
def test_unsafe_list_prefixes_are_refused(prefix):
    with pytest.raises(ConfigurationError, match="prefix"):
        split_prefix(prefix)


def test_partial_files_are_told_by_their_last_component():
    assert is_partial(PARTIAL_PREFIX + "abc")
    assert is_partial("2026/" + PARTIAL_PREFIX + "abc")
    assert not is_partial(PARTIAL_PREFIX.strip(".") + "/archive.tar.gz")
    assert not is_partial("archive.tar.gz")


def test_the_package_imports_no_model_and_no_pipeline():
    """Importable before the app registry is ready, and a leaf of the pipelines."""
    code = (
        "import sys, diskette.destinations\n"
        "bad = [m for m in sys.modules if m.endswith('.models') or m.startswith(("
        "'diskette.api', 'diskette.dumping', 'diskette.loading', 'diskette.restore',"
        " 'diskette.archive', 'diskette.checks'))]\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "sandbox.settings_test"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
