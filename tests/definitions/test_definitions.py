"""Application definitions: schema, labels, filenames, drains, order, errors."""

from __future__ import annotations

import copy

import pytest
from django.apps import apps
from django.core.serializers.base import SerializerDoesNotExist

from diskette.definitions import (
    FORMATS,
    Definition,
    available_formats,
    definition_problems,
    load_definitions,
    option_names,
    schema,
)
from diskette.exceptions import ConfigurationError, DefinitionError


def concrete(app_label: str) -> tuple[str, ...]:
    """The labels of an app's models that own rows, in registry order."""
    return tuple(
        model._meta.label
        for model in apps.get_app_config(app_label).get_models()
        if not model._meta.proxy
    )


def one(raw_options: dict, name: str = "one") -> Definition:
    (definition,) = load_definitions([[name, raw_options]])
    return definition


def problems_of(raw) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_definitions(raw)
    assert caught.value.problems == definition_problems(raw)
    return caught.value.problems


def by_name(definitions: list[Definition]) -> dict[str, Definition]:
    return {definition.name: definition for definition in definitions}


# ---- the shipped definitions and schema ----------------------------------------


def test_schema_is_a_valid_json_schema_listing_every_option():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema())
    assert set(option_names()) == {
        "models",
        "excludes",
        "natural_foreign",
        "natural_primary",
        "use_base_manager",
        "comments",
        "filename",
        "is_drain",
        "allow_drain",
        "drain_excluded",
        "dump_command",
        "anonymise",
    }


def test_the_sandbox_definitions_validate_and_resolve():
    definitions = by_name(load_definitions())
    assert definitions["django.contrib.auth"].models == ("auth.Group", "auth.User")
    assert definitions["django.contrib.sites"].models == ("sites.Site",)
    assert set(definitions["library"].models) == set(concrete("library"))
    drain = definitions["everything else"]
    assert drain.is_drain
    # contenttypes, permissions, sessions and the admin log are excluded; the
    # drain is left with what remains of the installed apps.
    assert "auth.Permission" not in drain.models
    assert "sessions.Session" not in drain.models


def test_load_definitions_reads_diskette_apps_by_default(settings):
    settings.DISKETTE_APPS = [["sites only", {"models": "sites"}]]
    (definition,) = load_definitions()
    assert definition.name == "sites only"
    assert definition.models == ("sites.Site",)


def test_an_empty_list_is_valid_and_gives_no_definitions():
    assert load_definitions([]) == []


# ---- labels --------------------------------------------------------------------


def test_an_app_label_selects_its_concrete_models_only():
    models = one({"models": ["library"]}).models
    assert models == concrete("library")
    assert "library.PublishedBook" not in models  # proxy: no rows of its own
    assert "library.EBook" in models  # multi-table child: rows of its own
    assert "library.ShelfEntry" in models  # explicit through model: a real model
    assert not any(label.startswith("library.Book_") for label in models)


def test_auto_created_through_models_are_never_listed():
    models = one({"models": "auth"}).models
    assert models == ("auth.Permission", "auth.Group", "auth.User")
    through = apps.get_model("auth", "User").groups.through
    assert through._meta.auto_created
    assert through._meta.label not in models


def test_a_single_string_is_accepted_for_models():
    assert one({"models": "auth.User"}).models == ("auth.User",)


@pytest.mark.parametrize("label", ["auth.user", "AUTH.USER", "Auth.User"])
def test_model_labels_are_case_insensitive(label):
    assert one({"models": [label]}).models == ("auth.User",)


@pytest.mark.parametrize("label", ["sites", "Sites", "SITES"])
def test_app_labels_are_case_insensitive(label):
    assert one({"models": label}).models == ("sites.Site",)


def test_labels_named_twice_are_dumped_once():
    assert one({"models": ["auth", "auth.User", "AUTH.user"]}).models == concrete(
        "auth"
    )


def test_excludes_accept_model_and_app_labels():
    definition = one(
        {
            "models": ["auth", "sites", "library"],
            "excludes": ["auth.permission", "Library"],
        }
    )
    assert definition.models == ("auth.Group", "auth.User", "sites.Site")
    assert set(definition.excludes) == {"auth.Permission", *concrete("library")}


def test_excludes_accept_a_single_string():
    assert one({"models": "auth", "excludes": "auth.Permission"}).models == (
        "auth.Group",
        "auth.User",
    )


def test_an_unknown_model_is_reported_with_a_suggestion():
    (problem,) = problems_of([["users", {"models": ["auth.Usr"]}]])
    assert problem == (
        "definition 'users': models 'auth.Usr' is not a model of the app 'auth': "
        "did you mean 'auth.User'?"
    )


def test_an_unknown_app_is_reported_with_a_suggestion():
    (problem,) = problems_of([["x", {"models": ["sitez"]}]])
    assert problem == (
        "definition 'x': models 'sitez' is not an installed app label: "
        "did you mean 'sites'?"
    )


def test_an_unknown_app_without_a_close_match_points_to_installed_apps():
    (problem,) = problems_of([["x", {"models": ["zzzqqq"]}]])
    assert "'zzzqqq' is not an installed app label: check INSTALLED_APPS" in problem


def test_an_unknown_app_in_a_model_label_is_reported():
    (problem,) = problems_of([["x", {"models": ["nosuchapp.Thing"]}]])
    assert problem.startswith(
        "definition 'x': models 'nosuchapp.Thing' names the app 'nosuchapp', which "
        "is not an installed app label"
    )


def test_a_misspelt_app_in_a_model_label_suggests_the_model_label():
    raw = [["x", {"models": ["librari.Book"], "excludes": ["autj.User"]}]]
    assert problems_of(raw) == [
        "definition 'x': models 'librari.Book' is not an installed model: did you "
        "mean 'library.Book'?",
        "definition 'x': excludes 'autj.User' is not an installed model: did you "
        "mean 'auth.User'?",
    ]


def test_a_bare_model_name_suggests_the_model_label():
    (problem,) = problems_of([["x", {"models": ["user"]}]])
    assert problem == (
        "definition 'x': models 'user' is not an app label: did you mean 'auth.User'?"
    )


@pytest.mark.parametrize("name", ["django.contrib.auth", "sandbox.library"])
def test_a_dotted_app_name_is_refused_with_its_label(name):
    (problem,) = problems_of([["x", {"models": [name]}]])
    label = apps.get_app_config(name.rsplit(".", 1)[-1]).label
    assert problem == (
        f"definition 'x': models {name!r} is an app name, not a label: "
        f"use its label {label!r}"
    )


def test_a_malformed_label_is_reported():
    (problem,) = problems_of([["x", {"models": ["auth."]}]])
    assert problem == (
        "definition 'x': models 'auth.' is not a label: "
        "write 'app_label' or 'app_label.ModelName'"
    )


def test_naming_an_auto_created_through_model_is_an_error_naming_its_owner():
    problems = problems_of(
        [
            ["a", {"models": ["auth.User_groups"]}],
            ["b", {"models": ["auth"], "excludes": ["auth.Group_permissions"]}],
        ]
    )
    assert problems == [
        "definition 'a': models 'auth.User_groups' is the automatic table of the "
        "many-to-many field auth.User.groups, whose rows travel with 'auth.User': "
        "name 'auth.User' instead",
        "definition 'b': excludes 'auth.Group_permissions' is the automatic table of "
        "the many-to-many field auth.Group.permissions, whose rows travel with "
        "'auth.Group': exclude 'auth.Group' instead",
    ]


def test_naming_a_proxy_model_is_an_error_naming_its_concrete_model():
    (problem,) = problems_of([["x", {"models": ["library.PublishedBook"]}]])
    assert problem == (
        "definition 'x': models 'library.PublishedBook' is a proxy model, without "
        "rows of its own (dumpdata skips it too): name its concrete model "
        "'library.Book' instead"
    )


def test_an_app_without_models_is_an_error_in_models_but_fine_in_excludes():
    (problem,) = problems_of([["x", {"models": ["messages"]}]])
    assert problem == (
        "definition 'x': models 'messages' is an app without models to dump: "
        "remove 'messages'"
    )
    assert one({"models": "sites", "excludes": ["messages"]}).models == ("sites.Site",)


# ---- shape ---------------------------------------------------------------------------


def test_definitions_that_are_not_a_list_are_one_problem():
    assert problems_of("auth") == [
        "the definitions are 'auth' (a string), not a list of [name, options] "
        "pairs: write [['name', {'models': [...]}], ...]"
    ]


@pytest.mark.parametrize("item", ["auth", ["auth"], ["a", {}, "extra"], 42])
def test_an_item_that_is_not_a_pair_is_reported(item):
    (problem,) = problems_of([item])
    assert problem.startswith("definition ")
    assert "not a [name, options] pair: write ['name', {'models': [...]}]" in problem


@pytest.mark.parametrize("name", ["", 3, None])
def test_a_bad_name_is_reported(name):
    (problem,) = problems_of([[name, {"models": "sites"}]])
    assert problem.startswith(f"definition #1 has the name {name!r}")
    assert problem.endswith("give it a non-empty string as name")


def test_options_that_are_not_a_dict_are_reported():
    (problem,) = problems_of([["x", ["sites"]]])
    assert problem == (
        "definition 'x' has the options ['sites'] (a list), not a dict: "
        "write {'models': [...], ...}"
    )


def test_an_unknown_option_is_an_error_with_a_suggestion_never_a_type_error():
    problems = problems_of([["x", {"model": "sites", "colour": "red"}]])
    assert problems[0].startswith(
        "definition 'x' has the unknown option 'model': did you mean 'models'? "
        "(options are models, excludes, natural_foreign,"
    )
    assert problems[1].startswith(
        "definition 'x' has the unknown option 'colour': remove it (options are models,"
    )
    # The misspelt "models" is unknown, so the definition lists no models, too.
    assert "definition 'x' lists no models" in problems[2]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"models": "sites", "natural_foreign": "yes"},
            "definition 'x': natural_foreign 'yes' is a string: write True or False",
        ),
        (
            {"models": "sites", "natural_primary": 1},
            "definition 'x': natural_primary 1 is an integer: write True or False",
        ),
        (
            {"models": 42},
            "definition 'x': models 42 is an integer: give an app label ('sites'), a "
            "model label ('auth.User') or a list of them",
        ),
        (
            {"models": ["sites", 42]},
            "definition 'x': models item 2 42 is an integer: give an app label "
            "('sites'), a model label ('auth.User') or a list of them",
        ),
        (
            {"models": ""},
            "definition 'x': models '' is empty: give an app label ('sites'), a model "
            "label ('auth.User') or a list of them",
        ),
        (
            {"models": "sites", "excludes": {"auth": True}},
            "definition 'x': excludes {'auth': True} is a dict: give an app label "
            "('sessions'), a model label ('auth.Permission') or a list of them",
        ),
        (
            {"models": "sites", "filename": 3},
            "definition 'x': filename 3 is an integer: give a plain file name such as "
            "'users.json'",
        ),
        (
            {"models": None},
            "definition 'x': models None is not allowed: give an app label ('sites'), a "
            "model label ('auth.User') or a list of them",
        ),
        (
            {"models": "sites", "comments": ["a"]},
            "definition 'x': comments ['a'] is a list: give a string, or None",
        ),
        (
            {"models": "sites", "dump_command": 1},
            "definition 'x': dump_command 1 is an integer: give the name of a "
            "management command such as 'dumpdata', or None",
        ),
    ],
)
def test_wrong_option_types_name_the_key_the_value_and_the_fix(options, expected):
    assert problems_of([["x", options]]) == [expected]


def test_tuples_are_as_good_as_lists():
    (definition,) = load_definitions((("x", {"models": ("auth.Group", "sites")}),))
    assert definition.models == ("auth.Group", "sites.Site")


def test_duplicate_names_are_an_error():
    problems = problems_of([["x", {"models": "sites"}], ["x", {"models": "auth"}]])
    assert problems == [
        "definition 'x' is defined twice (items 1 and 2): give each definition its "
        "own name"
    ]


def test_a_definition_without_models_is_an_error():
    (problem,) = problems_of([["x", {"models": []}]])
    assert problem == (
        "definition 'x' lists no models: give 'models' (an app label such as 'sites' "
        "or a model label such as 'auth.User'), or make it a drain with "
        "'is_drain': True"
    )


def test_excludes_that_remove_every_model_are_an_error():
    (problem,) = problems_of([["x", {"models": "sites", "excludes": "sites.Site"}]])
    assert problem == (
        "definition 'x': its excludes leave none of its models to dump: exclude "
        "fewer models or remove the definition"
    )


def test_a_model_in_two_definitions_is_an_error():
    (problem,) = problems_of(
        [
            ["a", {"models": "auth"}],
            ["b", {"models": ["auth.User", "auth.Group", "sites"]}],
        ]
    )
    assert problem == (
        "definition 'b' dumps 'auth.Group', 'auth.User', already dumped by definition "
        "'a': keep each model in one definition (or exclude it from one)"
    )


def test_every_problem_of_every_definition_is_reported_at_once():
    raw = [
        ["a", {"models": ["auth.Usr", "sitez"], "natural_foreign": "no"}],
        ["b", {"models": "sites", "filename": "b.csv", "modles": 1}],
        ["a", {"models": "sites"}],
    ]
    with pytest.raises(DefinitionError) as caught:
        load_definitions(raw)
    problems = caught.value.problems
    assert len(problems) == 6
    assert str(caught.value).startswith("6 problems in the application definitions: ")
    for fragment in (
        "natural_foreign 'no'",
        "'modles'",
        "'auth.Usr'",
        "'sitez'",
        "'b.csv'",
        "defined twice",
    ):
        assert sum(fragment in problem for problem in problems) == 1, fragment
    assert isinstance(caught.value, ConfigurationError)


def test_definitions_are_never_mutated():
    raw = [
        [
            "auth",
            {"models": "auth", "excludes": ["auth.Permission"], "allow_drain": True},
        ],
        ["rest", {"is_drain": True, "excludes": "sessions"}],
        ["bad", {"models": ["nope"], "colour": 1}],
    ]
    before = copy.deepcopy(raw)
    definition_problems(raw)
    load_definitions(raw[:2])
    assert raw == before


# ---- filenames and formats -------------------------------------------------------


def test_the_default_filename_is_the_slugified_name_and_the_default_format():
    assert one({"models": "auth"}, name="django.contrib.auth").filename == (
        "djangocontribauth.json"
    )
    definition = one({"is_drain": True}, name="Everything Else")
    assert (definition.filename, definition.format) == ("everything-else.json", "json")


def test_the_default_format_comes_from_the_settings(settings):
    settings.DISKETTE_DUMP_FORMAT = "xml"
    definition = one({"models": "sites"}, name="sites")
    assert (definition.filename, definition.format) == ("sites.xml", "xml")


def test_an_invalid_default_format_is_reported_where_it_is_needed(settings):
    settings.DISKETTE_DUMP_FORMAT = "csv"
    (problem,) = problems_of([["x", {"models": "sites"}]])
    assert problem == (
        "DISKETTE_DUMP_FORMAT 'csv' is not a fixture format: use one of "
        + ", ".join(available_formats())
        + " (needed for the file name of definition 'x')"
    )
    # A definition with its own filename does not need it.
    assert one({"models": "sites", "filename": "s.json"}).format == "json"


@pytest.mark.parametrize("extension", ["json", "jsonl", "xml", "yaml", "JSON"])
def test_the_extension_selects_the_format(extension):
    definition = one({"models": "sites", "filename": f"sites.{extension}"})
    assert definition.format == extension.lower()
    assert definition.filename == f"sites.{extension}"
    assert definition.format in FORMATS


def test_every_available_format_has_a_django_serializer():
    from django.core import serializers

    for fmt in available_formats():
        try:
            serializers.get_serializer(fmt)
        except SerializerDoesNotExist:  # pragma: no cover - the assertion says it
            pytest.fail(f"{fmt} has no serializer")


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (
            "sites.csv",
            "definition 'x': filename 'sites.csv' has the extension .csv, which is not "
            "a fixture format: use one of ",
        ),
        (
            "sites",
            "definition 'x': filename 'sites' has no extension: end it with .json",
        ),
        (
            "data/sites.json",
            "definition 'x': filename 'data/sites.json' is not a plain file name: "
            "remove the directories (fixtures go under data/ in the archive)",
        ),
        (
            "../sites.json",
            "definition 'x': filename '../sites.json' is not a plain file name",
        ),
        ("..", "definition 'x': filename '..' is not a plain file name"),
        (
            "a\\b.json",
            "definition 'x': filename 'a\\\\b.json' contains a backslash: give a plain "
            "file name",
        ),
    ],
)
def test_bad_filenames_are_reported(filename, expected):
    (problem,) = problems_of([["x", {"models": "sites", "filename": filename}]])
    assert problem.startswith(expected)


def test_a_name_without_letters_needs_a_filename():
    (problem,) = problems_of([["???", {"models": "sites"}]])
    assert problem == (
        "definition '???': its name gives an empty file name: set 'filename', for "
        "example 'data.json'"
    )


def test_two_definitions_writing_the_same_file_are_an_error():
    problems = problems_of(
        [
            ["a b", {"models": "sites"}],
            ["a-b", {"models": "auth"}],
            ["c", {"models": "sessions", "filename": "A-B.json"}],
        ]
    )
    assert problems == [
        "definition 'a-b' writes the file 'a-b.json', like definition 'a b': give "
        "one of them another 'filename'",
        "definition 'c' writes the file 'A-B.json', like definition 'a b': give "
        "one of them another 'filename'",
    ]


# ---- options passed to the dumper --------------------------------------------------


def test_options_reach_the_definition():
    definition = one(
        {
            "models": "sites",
            "natural_foreign": True,
            "natural_primary": True,
            "use_base_manager": True,
            "comments": "the sites",
            "dump_command": "dumpdata",
        }
    )
    assert definition == Definition(
        name="one",
        models=("sites.Site",),
        filename="one.json",
        format="json",
        natural_foreign=True,
        natural_primary=True,
        use_base_manager=True,
        comments="the sites",
        dump_command="dumpdata",
    )
    assert definition.model_classes() == [apps.get_model("sites", "Site")]


def test_an_unknown_dump_command_is_an_error():
    (problem,) = problems_of([["x", {"models": "sites", "dump_command": "dumpdatta"}]])
    assert problem == (
        "definition 'x': dump_command 'dumpdatta' is not a management command of this "
        "project: give an installed command such as 'dumpdata', or remove it"
    )


# ---- order ---------------------------------------------------------------------------


def test_models_come_in_registry_order_whatever_the_order_given():
    definition = one(
        {"models": ["sites", "auth.User", "auth.Group", "auth.Permission"]}
    )
    assert definition.models == (
        "auth.Permission",
        "auth.Group",
        "auth.User",
        "sites.Site",
    )


def test_natural_foreign_orders_natural_key_targets_first():
    definition = one(
        {"models": ["library", "contenttypes", "auth"], "natural_foreign": True}
    )
    order = {label: index for index, label in enumerate(definition.models)}
    assert set(order) == set(
        concrete("library") + concrete("contenttypes") + concrete("auth")
    )
    checked = 0
    for model in definition.model_classes():
        for field in model._meta.fields:
            target = field.remote_field.model if field.remote_field else None
            if target is None or target is model or not hasattr(target, "natural_key"):
                continue
            if target._meta.label in order:
                assert order[target._meta.label] < order[model._meta.label], (
                    model,
                    target,
                )
                checked += 1
    assert checked  # the sample app does reference natural-key models


def test_the_order_is_deterministic():
    raw = [["x", {"models": ["library", "auth"], "natural_foreign": True}]]
    assert load_definitions(raw) == load_definitions(copy.deepcopy(raw))


# ---- drains --------------------------------------------------------------------------


def all_concrete() -> set[str]:
    return {
        label for config in apps.get_app_configs() for label in concrete(config.label)
    }


def test_a_drain_takes_every_model_nobody_dumps_including_apps_nobody_named():
    definitions = by_name(
        load_definitions([["auth", {"models": "auth"}], ["rest", {"is_drain": True}]])
    )
    rest = set(definitions["rest"].models)
    assert rest == all_concrete() - set(concrete("auth"))
    # Apps nobody named are drained.
    assert {"sessions.Session", "admin.LogEntry", "contenttypes.ContentType"} <= rest


def test_a_drain_leaves_out_its_own_excludes():
    definitions = by_name(
        load_definitions(
            [
                ["auth", {"models": "auth"}],
                ["rest", {"is_drain": True, "excludes": ["sessions", "library.Note"]}],
            ]
        )
    )
    rest = set(definitions["rest"].models)
    assert rest == all_concrete() - set(concrete("auth")) - {
        "sessions.Session",
        "library.Note",
    }


def test_a_drain_lists_no_models():
    (problem,) = problems_of([["rest", {"is_drain": True, "models": "sites"}]])
    assert problem == (
        "definition 'rest' is a drain, which takes every model no other definition "
        "dumps: remove its 'models' (use 'excludes' to leave models out)"
    )


def test_excluded_models_are_kept_out_of_drains_by_default():
    definitions = by_name(
        load_definitions(
            [
                ["auth", {"models": "auth", "excludes": "auth.Permission"}],
                ["rest", {"is_drain": True}],
            ]
        )
    )
    assert "auth.Permission" not in definitions["rest"].models
    assert "auth.Permission" not in definitions["auth"].models


def test_allow_drain_hands_a_definitions_excludes_to_the_drain():
    definitions = by_name(
        load_definitions(
            [
                [
                    "auth",
                    {
                        "models": "auth",
                        "excludes": "auth.Permission",
                        "allow_drain": True,
                    },
                ],
                ["library", {"models": "library", "excludes": "library.Note"}],
                ["rest", {"is_drain": True}],
            ]
        )
    )
    assert "auth.Permission" in definitions["rest"].models
    assert "library.Note" not in definitions["rest"].models


def test_drain_excluded_drains_every_excluded_model():
    definitions = by_name(
        load_definitions(
            [
                ["auth", {"models": "auth", "excludes": "auth.Permission"}],
                ["library", {"models": "library", "excludes": "library.Note"}],
                ["rest", {"is_drain": True, "drain_excluded": True}],
            ]
        )
    )
    assert {"auth.Permission", "library.Note"} <= set(definitions["rest"].models)


def test_a_drains_own_excludes_win_over_drain_excluded():
    definitions = by_name(
        load_definitions(
            [
                ["auth", {"models": "auth", "excludes": "auth.Permission"}],
                [
                    "rest",
                    {"is_drain": True, "drain_excluded": True, "excludes": "auth"},
                ],
            ]
        )
    )
    assert "auth.Permission" not in definitions["rest"].models


def test_several_drains_never_dump_a_model_twice_and_the_first_wins():
    definitions = load_definitions(
        [
            ["sites", {"models": "sites"}],
            ["first", {"is_drain": True, "excludes": ["auth"]}],
            ["second", {"is_drain": True, "excludes": ["sessions"]}],
        ]
    )
    first, second = definitions[1], definitions[2]
    assert set(first.models) == all_concrete() - {"sites.Site", *concrete("auth")}
    assert set(second.models) == set(concrete("auth"))
    assert not set(first.models) & set(second.models)
    dumped = [label for definition in definitions for label in definition.models]
    assert len(dumped) == len(set(dumped)) == len(all_concrete())


def test_allow_drain_on_a_drain_and_drain_excluded_on_a_definition_are_errors():
    problems = problems_of(
        [
            ["a", {"models": "sites", "drain_excluded": True}],
            ["rest", {"is_drain": True, "allow_drain": True}],
        ]
    )
    assert problems == [
        "definition 'a': drain_excluded is for drains only: remove it, or add "
        "'is_drain': True (use 'allow_drain' on a normal definition)",
        "definition 'rest': allow_drain is for normal definitions, not drains: remove "
        "it (use 'drain_excluded' on a drain)",
    ]


def test_a_drain_orders_its_models_like_any_definition():
    (drain,) = load_definitions([["rest", {"is_drain": True, "natural_foreign": True}]])
    order = {label: index for index, label in enumerate(drain.models)}
    assert order["contenttypes.ContentType"] < order["auth.Permission"]
    assert order["library.Publisher"] < order["library.Book"]
