"""diskette.api imports each name on first use; dump and plan_dump share their keywords."""

from __future__ import annotations

import subprocess
import sys

import pytest

from diskette import api


def test_importing_the_api_imports_no_pipeline_and_nothing_of_django():
    code = (
        "import sys, diskette.api\n"
        "print(sorted(m for m in sys.modules if m.startswith('diskette.api.')"
        " or 'django' in m))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_every_exported_name_is_there_on_first_use():
    for name in api.__all__:
        assert getattr(api, name) is not None, name
        assert name in dir(api)
    assert api.STORAGES_MODES
    assert "json" in api.FORMATS
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        api.nope  # noqa: B018 - the attribute access is the test


def test_plan_dump_takes_no_with_checksum_and_dump_no_unknown_keyword():
    with pytest.raises(TypeError, match="unexpected keyword argument 'with_checksum'"):
        api.plan_dump(with_checksum=False)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        api.dump(nope=True)  # type: ignore[call-arg]


@pytest.mark.slow
def test_type_checkers_see_the_dump_keywords(tmp_path):
    """The shared TypedDicts reach type checkers as the functions' keywords."""
    mypy_api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "from diskette import api\n"
        "reveal_type(api.plan_dump(with_data=False))\n"
        "api.dump(compresslevel='9')\n"
        "api.plan_dump(with_checksum=False)\n"
    )
    out, _err, status = mypy_api.run(
        ["--cache-dir", str(tmp_path / "cache"), "--follow-imports=silent"]
        + ["--ignore-missing-imports", str(snippet)]
    )
    assert "diskette.api.dump_plan.DumpPlan" in out, out
    assert 'Argument "compresslevel" to "dump" has incompatible type "str"' in out, out
    assert 'Unexpected keyword argument "with_checksum" for "plan_dump"' in out, out
    assert status == 1
