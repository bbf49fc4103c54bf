"""The path guards: storages under their base path, archive names that stay inside."""

import pytest

from diskette.exceptions import ConfigurationError, UnsafeArchiveError
from diskette.paths import (
    MAX_NAME_LENGTH,
    check_member_name,
    member_name_problem,
    resolve_storages,
    safe_join,
    storage_problems,
)


def test_storage_inside_base_resolves_to_its_relative_name(tmp_path):
    (tmp_path / "var" / "media").mkdir(parents=True)
    [storage] = resolve_storages([tmp_path / "var" / "media"], tmp_path)
    assert storage.name == "var/media"
    assert storage.path == (tmp_path / "var" / "media").resolve()


def test_relative_storage_is_taken_from_the_base(tmp_path):
    [storage] = resolve_storages(["media"], tmp_path)
    assert storage.path == (tmp_path / "media").resolve()
    assert storage.name == "media"


@pytest.mark.parametrize(
    ("storages", "expected"),
    [
        (["/elsewhere/media"], "outside the storages base path"),
        (["media/../../escape"], "outside the storages base path"),
        (["."], "is the storages base path"),
        (["media", "media/"], "is listed twice"),
        (["media", "media/thumbs"], "is inside storage 'media'"),
        (["media/thumbs", "media"], "is inside storage 'media'"),
        ([""], "is not a path"),
        ([42], "is not a path"),
    ],
)
def test_storage_problems_name_the_storage_and_the_fix(tmp_path, storages, expected):
    problems = storage_problems(storages, tmp_path)
    assert len(problems) == 1
    assert expected in problems[0]


def test_resolve_storages_raises_every_problem(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        resolve_storages(["/outside", "."], tmp_path)
    assert "outside" in str(caught.value)
    assert "base path" in str(caught.value)


def test_storage_through_a_symbolic_link_leaving_the_base_is_refused(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (tmp_path / "secret").mkdir()
    (base / "media").symlink_to(tmp_path / "secret")
    assert "outside" in storage_problems(["media"], base)[0]


@pytest.mark.parametrize(
    "name",
    ["data/site.json", "media/images/2024/photo.jpg", "media/docs/unicodé ñame.txt"],
)
def test_ordinary_member_names_pass(name):
    assert member_name_problem(name) is None
    assert check_member_name(name + "/") == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        (".", "whole destination"),
        ("/etc/passwd", "absolute"),
        ("../escape", "'..'"),
        ("media/../../escape", "'..'"),
        ("media\\..\\escape", "backslash"),
        ("media/a\x00b", "NUL"),
        ("media//double", "normalised"),
        ("./media", "normalised"),
        ("media/./a", "normalised"),
        ("media/a\nb", "control character"),
        ("m/" + "x" * MAX_NAME_LENGTH, "longer than"),
        ("m/" + "x" * 256, "component longer"),
    ],
)
def test_unsafe_member_names_are_refused(name, problem):
    assert problem in member_name_problem(name)
    with pytest.raises(UnsafeArchiveError) as caught:
        check_member_name(name)
    assert problem in str(caught.value)


def test_safe_join_stays_inside_the_root(tmp_path):
    assert safe_join(tmp_path, "media/a.txt") == tmp_path.resolve() / "media" / "a.txt"


def test_safe_join_refuses_a_symbolic_link_already_on_disk(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (root / "media").symlink_to(tmp_path / "outside")
    with pytest.raises(UnsafeArchiveError, match="resolves outside"):
        safe_join(root, "media/a.txt")
