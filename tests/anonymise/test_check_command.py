"""``diskette_dump --check --anonymise``: the rules' fields and the uncovered ones."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_check_lists_rules_and_warns_about_uncovered_personal_fields(
    settings, tmp_path
):
    settings.DISKETTE_DUMP_PATH = str(tmp_path)
    settings.DISKETTE_STORAGES = []
    out, err = StringIO(), StringIO()
    call_command("diskette_dump", "--check", "--anonymise", stdout=out, stderr=err)
    text = out.getvalue() + err.getvalue()
    assert "auth.User.email: email (profile 'share')" in text
    assert "dropped: " in text and "admin.LogEntry" in text
    assert "library.Author.first_name is named 'first_name' and looks personal" in text
    assert "auth.User.email is" not in text  # covered: no warning

    settings.DISKETTE_ANONYMISE = {
        "rules": {
            "library.Author.first_name": "first_name",
            "library.Author.last_name": "keep",
        }
    }
    out = StringIO()
    call_command("diskette_dump", "--check", "--anonymise", "--json", stdout=out)
    report = json.loads(out.getvalue())["anonymise"]
    fields = {rule["field"]: rule for rule in report["rules"]}
    assert fields["library.Author.first_name"]["unique"] is True
    assert not any("library.Author" in line for line in report["uncovered"])
