"""diskette.environment: the recorded distributions, without credentials, compared."""

from __future__ import annotations

import json
from importlib import metadata

import pytest

from diskette.environment import (
    canonical_name,
    compare_environments,
    installed_distributions,
    safe_entry,
    strip_credentials,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://user:s3cret@example.com/simple/pkg-1.0.tar.gz",
            "https://example.com/simple/pkg-1.0.tar.gz",
        ),
        (
            "https://ghp_TOKEN123@github.com/org/repo.git",
            "https://github.com/org/repo.git",
        ),
        (
            "https://user:p%40ss@example.com:8443/a.whl#sha256=abc",
            "https://example.com:8443/a.whl#sha256=abc",
        ),
        ("https://example.com/a.whl?private_token=xyz", "https://example.com/a.whl"),
        ("ssh://git@github.com/org/repo.git", "ssh://github.com/org/repo.git"),
        ("file:///srv/src/project", "file:///srv/src/project"),
        ("https://example.com/a.whl", "https://example.com/a.whl"),
        (
            "https://user:pa/ss@example.com:8080/a.whl#frag",
            "https://example.com:8080/a.whl#frag",
        ),
        ("https://u:pa#ss@example.com/a.whl?t=1", "https://example.com/a.whl"),
        ("https://u:pa?ss@example.com/a.whl", "https://example.com/a.whl"),
        (
            "git+https://user:pa/ss#w@rd@github.com/o/r.git@v1",
            "git+https://github.com/o/r.git@v1",
        ),
        (
            "git+https://u:pw@github.com/o/r.git@v1.0#egg=r",
            "git+https://github.com/o/r.git@v1.0#egg=r",
        ),
        ("https://tok%2Fen@host/p.whl?token=x", "https://host/p.whl"),
        ("file:///srv/src/pkg@2/x", "file:///srv/src/pkg@2/x"),
    ],
)
def test_credentials_are_stripped(url, expected):
    assert strip_credentials(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://u:p@[::1/broken?t=1",  # no host can be read
        "https://tok/en@github.com/o/r.git",  # a token with '/', or a host 'tok'?
        "https://tok#en@github.com/o/r.git",
        "https://u:p@ss/word@host/path",  # a password with '@' and '/'
        "git+https://github.com/o/r.git@feature/x",  # a path '@', or a password?
    ],
)
def test_a_url_that_cannot_be_made_safe_is_dropped(url):
    """Two readings (or none): rather than guess, and maybe keep a secret, drop it."""
    assert strip_credentials(url) is None


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "pkg @ git+https://user:pa/ss#w@rd@github.com/o/r.git@v1",
            "pkg @ git+https://github.com/o/r.git@v1",
        ),
        ("pkg @ https://tok%2Fen@host/p.whl?token=x", "pkg @ https://host/p.whl"),
        ("pkg @ https://tok/en@github.com/o/r.git", "pkg"),
        ("pkg==1.0", "pkg==1.0"),
    ],
)
def test_entries_keep_their_name_and_lose_their_credentials(entry, expected):
    assert safe_entry(entry) == expected


def dist_info(root, name, version, direct_url=None):
    """A real ``.dist-info`` directory, as pip leaves one."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", "utf-8"
    )
    if direct_url is not None:
        text = direct_url if isinstance(direct_url, str) else json.dumps(direct_url)
        (info / "direct_url.json").write_text(text, "utf-8")
    return info


def test_urls_and_vcs_installs_are_recorded_without_credentials(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    dist_info(first, "plain-pkg", "1.0")
    dist_info(
        first,
        "from-git",
        "0.1",
        {
            "url": "https://deploy:hunter2@git.example.com/team/app.git",
            "vcs_info": {"vcs": "git", "commit_id": "0123abcd"},
        },
    )
    dist_info(
        first,
        "from-url",
        "2.0",
        {"url": "https://user:pw@files.example.com/p.whl", "archive_info": {}},
    )
    dist_info(first, "broken-direct", "3.0", "{nope")
    dist_info(
        first,
        "raw-slash",
        "4.0",
        {
            "url": "https://deploy:hun/ter#2@git.example.com/team/tool.git",
            "vcs_info": {"vcs": "git", "commit_id": "4567cdef"},
        },
    )
    dist_info(
        first,
        "ambiguous",
        "5.0",
        {"url": "https://ab/cd@files.example.com/a.whl", "archive_info": {}},
    )
    dist_info(second, "Plain_Pkg", "9.9")  # the same name, later on the path

    entries = installed_distributions([str(first), str(second)])

    assert entries == [
        "ambiguous==5.0",
        "broken-direct==3.0",
        "from-git @ git+https://git.example.com/team/app.git@0123abcd",
        "from-url @ https://files.example.com/p.whl",
        "plain-pkg==1.0",
        "raw-slash @ git+https://git.example.com/team/tool.git@4567cdef",
    ]
    secrets = ("hunter2", "deploy", "pw@", "hun/ter", "ter#2", "ab/cd")
    assert not any(secret in e for e in entries for secret in secrets)


def test_the_running_environment_is_listed_once_per_name_sorted():
    entries = installed_distributions()
    names = [canonical_name(entry.split("==")[0].split(" @ ")[0]) for entry in entries]
    assert names == sorted(set(names))
    django = [e for e in entries if canonical_name(e.split("==")[0]) == "django"]
    assert django == [f"Django=={metadata.version('django')}"]
    assert all("==" in entry or " @ " in entry for entry in entries)


def test_compare_finds_added_removed_and_changed():
    difference = compare_environments(
        ["Django==5.2.1", "old-thing==1.0", "same==2.0", "pkg @ https://x/pkg.whl"],
        ["django==5.2.2", "same==2.0", "new_thing==0.1", "pkg==3.0"],
    )
    assert difference.recorded and not difference.same
    assert difference.added == ["new_thing==0.1"]
    assert difference.removed == ["old-thing==1.0"]
    assert difference.changed == [
        ("django", "5.2.1", "5.2.2"),
        ("pkg", "https://x/pkg.whl", "3.0"),
    ]


def test_compare_same_and_unrecorded():
    assert compare_environments(["a==1"], ["a==1"]).same
    nothing = compare_environments([], ["a==1"])
    assert not nothing.recorded and not nothing.same
    assert nothing.to_dict() == {
        "recorded": False,
        "added": [],
        "removed": [],
        "changed": [],
    }


def test_compare_never_shows_the_credentials_an_older_archive_recorded():
    """An archive written before the credentials were stripped this well."""
    difference = compare_environments(
        ["tool @ git+https://deploy:hun/ter#2@git.example.com/t.git@1234", "a==1"],
        ["tool==2.0", "a==1"],
    )
    assert difference.changed == [
        ("tool", "git+https://git.example.com/t.git@1234", "2.0")
    ]
    assert "hun" not in json.dumps(difference.to_dict())
