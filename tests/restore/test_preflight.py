"""The checks a load runs before its commit, against real trees, mounts and users.

Each case builds what a hostile manifest or an unlucky target would meet after the
commit (a database file where a storage is named, a link, a mount point, a full
file system, a directory the user may not write) and asserts that the check names
it before anything changes, and that the tree is exactly as before.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from diskette.exceptions import StorageRestoreError, UnsafeArchiveError
from diskette.restore.preflight import (
    new_directories,
    raise_for_swap,
    storage_targets,
    swap_problems,
)
from diskette.restore.protected import _sqlite_file, protected_paths
from tests.mounts import Mounts
from tests.unprivileged import run_unprivileged, user_ids


@pytest.fixture
def mounts():
    made = Mounts()
    yield made
    made.unmount_all()


@pytest.fixture
def public_tmp():
    """A directory every user can reach (``tmp_path`` is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="diskette-preflight-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def snapshot(root: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every entry under ``root``: kind, mode and content (a link's target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            found[str(path)] = ("link", info.st_mode, os.fsencode(path.readlink()))
        elif path.is_file():
            found[str(path)] = ("file", info.st_mode, path.read_bytes())
        else:
            found[str(path)] = ("other", info.st_mode, b"")
    return found


def project(root: Path) -> dict[str, Path]:
    """A site as the README sets it up: the base path is the project root."""
    base = root / "site"
    (base / "media" / "photos").mkdir(parents=True)
    (base / "media" / "photos" / "a.jpg").write_bytes(b"jpeg")
    (base / "dumps").mkdir()
    archive = base / "dumps" / "diskette.tar.gz"
    archive.write_bytes(b"archive")
    (base / "mysite").mkdir()
    settings_file = base / "mysite" / "settings.py"
    settings_file.write_text("SECRET_KEY = 'x'\n")
    database = base / "db.sqlite3"
    database.write_bytes(b"SQLite format 3\x00")
    staging = base / ".diskette-load-test"
    staging.mkdir(mode=0o700)
    return {
        "base": base,
        "archive": archive,
        "settings": settings_file,
        "database": database,
        "staging": staging,
    }


def problems_of(site, names, *, mode="replace", protected=(), **kwargs) -> list[str]:
    return swap_problems(
        storage_targets(site["base"], names),
        base=site["base"],
        staging=site["staging"],
        mode=mode,
        protected=list(protected),
        **kwargs,
    )


# -- what a restore never replaces ---------------------------------------------


def test_protected_paths_of_the_test_settings(tmp_path):
    archive = tmp_path / "in.tar.gz"
    download = tmp_path / "download.tar.gz"
    found = protected_paths(archive=archive, also=[download])
    assert Path(__file__).parents[2] / "sandbox" / "settings_test.py" in found
    assert archive.resolve() in found
    assert download.resolve() in found
    # Once the test database exists, the default alias is an in-memory database.
    name = settings.DATABASES["default"]["NAME"]
    if _sqlite_file(name) is not None:
        assert Path(name).resolve() in found


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_every_sqlite_database_is_protected_with_its_side_files(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "var").symlink_to("real")
    databases = {
        **settings.DATABASES,
        "files": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": tmp_path / "var/x.db",
        },
        "pg": {"ENGINE": "django.db.backends.postgresql", "NAME": str(tmp_path / "pg")},
    }
    with override_settings(DATABASES=databases):
        found = protected_paths()
    for suffix in ("", "-journal", "-wal", "-shm"):
        assert tmp_path / "real" / f"x.db{suffix}" in found
    assert tmp_path / "pg" not in found


def test_sqlite_names_that_open_no_file_protect_nothing(tmp_path):
    assert _sqlite_file(":memory:") is None
    assert _sqlite_file("") is None
    assert _sqlite_file("file:memorydb_default?mode=memory&cache=shared") is None
    assert _sqlite_file(f"file:{tmp_path}/my%20db.sqlite3?cache=shared") == (
        tmp_path / "my db.sqlite3"
    )
    assert _sqlite_file(tmp_path / "db.sqlite3") == tmp_path / "db.sqlite3"


def test_the_finding_database_dumps_and_settings_are_refused(tmp_path):
    """The manifest of the finding: db.sqlite3, dumps and mysite, plus media."""
    site = project(tmp_path)
    before = snapshot(tmp_path)
    protected = [site["database"], site["archive"], site["settings"]]
    found = problems_of(
        site, ["db.sqlite3", "dumps", "mysite", "media"], protected=protected
    )
    assert len(found) == 3, found
    database, dumps, code = found
    assert "'db.sqlite3'" in database and "is a regular file" in database
    assert "'dumps'" in dumps and str(site["archive"]) in dumps
    assert "never replaces" in dumps and "DISKETTE_STORAGES" in dumps
    assert "'mysite'" in code and str(site["settings"]) in code
    with pytest.raises(StorageRestoreError) as caught:
        raise_for_swap(
            storage_targets(site["base"], ["db.sqlite3", "dumps", "mysite", "media"]),
            base=site["base"],
            staging=site["staging"],
            mode="replace",
            protected=protected,
        )
    assert caught.value.exit_code == 22
    assert str(caught.value) == database + " (and 2 more problems)"
    assert "\n" not in str(caught.value)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("mode", ["replace", "merge"])
def test_a_storage_holding_the_database_is_refused_in_both_modes(tmp_path, mode):
    site = project(tmp_path)
    var = site["base"] / "var"
    var.mkdir()
    found = problems_of(site, ["var"], mode=mode, protected=[var / "db.sqlite3-wal"])
    assert len(found) == 1 and "holds" in found[0] and "db.sqlite3-wal" in found[0]


def test_a_protected_path_reached_through_a_link_is_still_protected(tmp_path):
    site = project(tmp_path)
    link = tmp_path / "settings-link.py"
    link.symlink_to(site["settings"])
    found = problems_of(site, ["mysite"], protected=[link])
    assert len(found) == 1 and str(site["settings"]) in found[0]


def test_a_storage_holding_the_staging_directory_is_refused(tmp_path):
    site = project(tmp_path)
    found = problems_of(site, [site["staging"].name])
    assert len(found) == 1 and "staging" in found[0]


# -- what the target path is ---------------------------------------------------


def test_a_clean_site_has_no_problem(tmp_path):
    site = project(tmp_path)
    assert problems_of(site, ["media", "uploads/new"]) == []
    assert problems_of(site, ["media", "uploads/new"], mode="merge") == []


def test_a_symlinked_storage_directory_is_refused(tmp_path):
    site = project(tmp_path)
    real = site["base"] / "real-media"
    real.mkdir()
    (site["base"] / "linked").symlink_to(real)
    before = snapshot(tmp_path)
    for mode in ("replace", "merge"):
        found = problems_of(site, ["linked"], mode=mode)
        assert len(found) == 1 and "is a symbolic link" in found[0], found
        assert str(real) in found[0]
    assert snapshot(tmp_path) == before


def test_a_symlinked_parent_is_refused_even_inside_the_base(tmp_path):
    site = project(tmp_path)
    (site["base"] / "elsewhere").mkdir()
    (site["base"] / "var").symlink_to("elsewhere")
    found = problems_of(site, ["var/media"])
    assert len(found) == 1
    assert f"{str(site['base'] / 'var')!r} is a symbolic link" in found[0]


def test_a_link_leading_outside_the_base_is_refused(tmp_path):
    site = project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (site["base"] / "media2").symlink_to(outside)
    found = problems_of(site, ["media2"])
    assert len(found) == 1 and "symbolic link" in found[0]


def test_a_linked_base_path_itself_is_fine(tmp_path):
    site = project(tmp_path)
    alias = tmp_path / "alias"
    alias.symlink_to(site["base"])
    found = swap_problems(
        storage_targets(alias, ["media"]),
        base=alias,
        staging=site["staging"],
        mode="replace",
        protected=[],
    )
    assert found == []


def test_a_regular_file_or_a_socket_where_a_storage_should_be(tmp_path):
    site = project(tmp_path)
    (site["base"] / "notes").write_text("keep me")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(site["base"] / "sock"))
        found = problems_of(site, ["notes", "sock"], mode="merge")
    assert "is a regular file where the storage should be" in found[0]
    assert "is a socket" in found[1]
    assert (site["base"] / "notes").read_text() == "keep me"


def test_a_file_where_a_parent_directory_should_be(tmp_path):
    site = project(tmp_path)
    found = problems_of(site, ["db.sqlite3/media"])
    assert len(found) == 1
    assert "a regular file where a directory the storage needs should be" in found[0]


def test_targets_outside_the_base_or_the_base_itself(tmp_path):
    site = project(tmp_path)
    common = {"staging": site["staging"], "mode": "replace", "protected": []}
    found = swap_problems([("media", tmp_path / "media")], base=site["base"], **common)
    assert len(found) == 1 and "not inside the load base path" in found[0]
    found = swap_problems([("x", site["base"])], base=site["base"], **common)
    assert len(found) == 1 and "the load base path itself" in found[0]


def test_storage_targets_keeps_links_and_checks_names(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "var").symlink_to("real")
    assert storage_targets(tmp_path, ["var/media/"]) == [
        ("var/media", tmp_path / "var" / "media")
    ]
    with pytest.raises(UnsafeArchiveError):
        storage_targets(tmp_path, ["../etc"])


def test_new_directories_counts_what_a_merge_creates(tmp_path):
    staged = tmp_path / "staged"
    (staged / "a" / "b").mkdir(parents=True)
    (staged / "c").mkdir()
    target = tmp_path / "target"
    assert new_directories(staged, target) == 4
    (target / "a").mkdir(parents=True)
    assert new_directories(staged, target) == 2


def test_an_unknown_mode_is_a_problem(tmp_path):
    site = project(tmp_path)
    assert "unknown" in problems_of(site, ["media"], mode="sideways")[0]


# -- mounts: a rename cannot cross them ----------------------------------------


@pytest.mark.parametrize("mode", ["replace", "merge"])
def test_a_storage_that_is_a_mount_point_is_refused(tmp_path, mounts, mode):
    site = project(tmp_path)
    media = mounts.tmpfs(site["base"] / "media")
    (media / "kept.txt").write_text("volume")
    before = snapshot(tmp_path)
    found = problems_of(site, ["media"], mode=mode)
    assert len(found) == 1 and "is a mount point" in found[0], found
    assert "DISKETTE_LOAD_STORAGES_PATH" in found[0]
    assert snapshot(tmp_path) == before
    # What the swap would have met after the commit:
    staged = site["staging"] / "file"
    staged.write_text("new")
    with pytest.raises(OSError) as failed:
        if mode == "replace":
            media.rename(site["base"] / ".media.aside")
        else:
            staged.rename(media / "file")
    assert failed.value.errno == (errno.EBUSY if mode == "replace" else errno.EXDEV)


def test_a_bind_mount_of_the_same_file_system_is_a_mount_point(tmp_path, mounts):
    site = project(tmp_path)
    source = tmp_path / "source"
    source.mkdir()
    mounts.bind(source, site["base"] / "media")
    found = problems_of(site, ["media"], mode="merge")
    assert len(found) == 1 and "is a mount point" in found[0], found


def test_a_storage_under_another_file_system_than_staging(tmp_path, mounts):
    site = project(tmp_path)
    volume = mounts.tmpfs(site["base"] / "volume")
    (volume / "media").mkdir()
    found = problems_of(site, ["volume/media"])
    assert len(found) == 1 and "on another file system" in found[0], found
    assert str(volume) in found[0]
    # The fix the message gives: the volume as the base path, staging on it.
    staging = volume / ".diskette-load-test"
    staging.mkdir()
    fixed = swap_problems(
        storage_targets(volume, ["media"]),
        base=volume,
        staging=staging,
        mode="replace",
        protected=[],
    )
    assert fixed == []


def test_merge_into_a_target_on_another_file_system_than_staging(tmp_path, mounts):
    base = tmp_path / "base"
    (base / "media").mkdir(parents=True)
    staging = mounts.tmpfs(tmp_path / "elsewhere")
    for mode in ("merge", "replace"):
        found = swap_problems(
            storage_targets(base, ["media"]),
            base=base,
            staging=staging,
            mode=mode,
            protected=[],
        )
        assert len(found) == 1 and "on another file system" in found[0], found


@pytest.mark.parametrize("mode", ["replace", "merge"])
def test_a_storage_holding_a_mount_point_is_refused(tmp_path, mounts, mode):
    site = project(tmp_path)
    cache = mounts.tmpfs(site["base"] / "media" / "cache")
    found = problems_of(site, ["media"], mode=mode)
    assert len(found) == 1 and f"holds the mount point {str(cache)!r}" in found[0]


# -- room for the journal and the directories the swap creates -----------------


def fill_inodes(directory: Path, leave: int) -> None:
    """Create empty files until only ``leave`` inodes are free."""
    index = 0
    while os.statvfs(directory).f_ffree > leave:
        (directory / f"f{index}").touch()
        index += 1


def test_too_few_free_inodes_are_refused(tmp_path, mounts):
    base = mounts.tmpfs(tmp_path / "base", inodes=64)
    (base / "media").mkdir()
    staging = base / ".diskette-load-test"
    staging.mkdir()
    targets = storage_targets(base, ["media"])
    common = {"base": base, "staging": staging, "mode": "merge", "protected": []}
    assert swap_problems(targets, **common) == []
    found = swap_problems(targets, directories_needed=50, **common)
    assert len(found) == 1 and "free inodes" in found[0], found
    fill_inodes(staging, leave=10)
    found = swap_problems(targets, **common)
    assert len(found) == 1 and "has 10 free inodes" in found[0], found
    # The check is right: the backup directory and a few more cannot be made.
    with pytest.raises(OSError) as full:
        for index in range(20):
            (staging / f"d{index}").mkdir()
    assert full.value.errno == errno.ENOSPC


def test_too_few_free_bytes_are_refused(tmp_path, mounts):
    base = mounts.tmpfs(tmp_path / "base", size="2m")
    (base / "media").mkdir()
    staging = base / ".diskette-load-test"
    staging.mkdir()
    targets = storage_targets(base, ["media"])
    common = {"base": base, "staging": staging, "mode": "replace", "protected": []}
    assert swap_problems(targets, **common) == []
    assert "free bytes" in swap_problems(targets, bytes_needed=2**21, **common)[0]
    (staging / "fill").write_bytes(b"\0" * (1536 * 1024))
    found = swap_problems(targets, **common)
    assert len(found) == 1 and "free bytes" in found[0], found


# -- permissions: checked as a user root is not ----------------------------------


def site_for_nobody(root: Path, *, owned: bool) -> dict[str, Path]:
    base = root / "site"
    (base / "media" / "sub").mkdir(parents=True)
    staging = base / ".diskette-load-test"
    staging.mkdir()
    for path in (base, base / "media", base / "media" / "sub", staging):
        path.chmod(0o755)
    if owned:
        uid, gid = user_ids()
        for path in (base, base / "media", base / "media" / "sub", staging):
            os.chown(path, uid, gid)
    return {"base": base, "staging": staging}


def nobody_problems(site, mode) -> list[str]:
    return run_unprivileged(problems_of, site, ["media"], mode=mode)


def test_permissions_pass_for_the_owner(public_tmp):
    site = site_for_nobody(public_tmp, owned=True)
    assert nobody_problems(site, "replace") == []
    assert nobody_problems(site, "merge") == []


def test_no_write_permission_on_the_parent_is_refused_in_replace(public_tmp):
    site = site_for_nobody(public_tmp, owned=False)
    found = nobody_problems(site, "replace")
    assert len(found) == 1 and f"may not write in {str(site['base'])!r}" in found[0]
    assert problems_of(site, ["media"]) == []  # root passes: the child's check counts


def test_no_write_permission_in_a_subdirectory_is_refused_in_merge(public_tmp):
    site = site_for_nobody(public_tmp, owned=True)
    os.chown(site["base"] / "media" / "sub", 0, 0)
    found = nobody_problems(site, "merge")
    sub = site["base"] / "media" / "sub"
    assert len(found) == 1 and f"may not write in {str(sub)!r}" in found[0], found
    assert nobody_problems(site, "replace") == []


def test_a_sticky_parent_blocks_renaming_another_users_storage(public_tmp):
    site = site_for_nobody(public_tmp, owned=False)
    site["base"].chmod(0o1777)
    found = nobody_problems(site, "replace")
    assert len(found) == 1 and "is sticky" in found[0], found
