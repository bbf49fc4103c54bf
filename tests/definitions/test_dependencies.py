"""Dependencies between models: the generated order and the cycles no load can satisfy."""

from __future__ import annotations

import textwrap

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.db import models
from django.test.utils import isolate_apps

from diskette.definitions import Definition, load_definitions
from diskette.definitions.dependencies import (
    data_file_order,
    dependency_order,
    model_dependencies,
    unloadable_cycles,
)
from tests.conftest import REPO_ROOT, run_manage


def definition(name: str, *labels: str, natural_foreign: bool = True) -> Definition:
    return Definition(
        name=name,
        models=labels,
        filename=f"{name}.json",
        format="json",
        natural_foreign=natural_foreign,
    )


class ByName(models.Manager):
    def get_by_natural_key(self, name):
        return self.get(name=name)


class Named(models.Model):
    """A row with a unique name (abstract: each test makes its own models)."""

    name = models.CharField(max_length=20, unique=True)
    objects = ByName()

    class Meta:
        abstract = True

    def __str__(self):
        return self.name


def natural(cls):
    """Give a model class a natural key (its unique ``name``)."""
    cls.natural_key = lambda self: (self.name,)
    return cls


@pytest.fixture
def registry():
    """An app registry of its own, so that the models below never reach the project's."""
    with isolate_apps("sandbox.library") as isolated:
        yield isolated


def farm(*, egg_hen_null=False, egg_natural=True):
    """Hens that come from an egg and eggs laid by a hen (app label ``library``)."""

    class Hen(Named):
        egg = models.ForeignKey("Egg", models.CASCADE, related_name="+")
        mother = models.ForeignKey("self", models.CASCADE, related_name="+")

        class Meta:
            app_label = "library"

    class Egg(Named):
        hen = models.ForeignKey(
            Hen, models.CASCADE, null=egg_hen_null, related_name="+"
        )

        class Meta:
            app_label = "library"

    natural(Hen)
    if egg_natural:
        natural(Egg)
    return Hen, Egg


# ---- dependency_order --------------------------------------------------------------


def test_groups_come_after_what_they_depend_on_and_keep_their_order_otherwise():
    library = list(apps.get_app_config("library").get_models())
    auth = [apps.get_model("auth.Group"), apps.get_model("auth.User")]
    sites = [apps.get_model("sites.Site")]
    # library.Review.reviewer points to auth.User: auth first; sites keeps its place.
    assert dependency_order([library, auth, sites]) == [1, 0, 2]
    assert dependency_order([auth, sites, library]) == [0, 1, 2]
    assert dependency_order([sites, auth]) == [0, 1]


def test_a_cycle_is_broken_at_its_nullable_side(registry):
    hen, egg = farm(egg_hen_null=True)
    # Eggs need hens (hen is nullable), hens cannot be saved without an egg.
    assert dependency_order([[egg], [hen]]) == [0, 1]
    hen_deps = set(model_dependencies(hen))
    assert (egg, True) in hen_deps and (hen, True) in hen_deps
    assert (hen, False) in set(model_dependencies(egg))


def test_a_group_waiting_for_a_cycle_waits_until_the_cycle_is_placed(registry):
    class Revision(Named):  # waits for users, as django-reversion's does
        user = models.ForeignKey("User", models.CASCADE, null=True, related_name="+")

        class Meta:
            app_label = "library"

    class User(Named):
        favourite = models.ForeignKey(
            "Category", models.CASCADE, null=True, related_name="+"
        )

        class Meta:
            app_label = "library"

    class Category(Named):
        owner = models.ForeignKey(User, models.CASCADE, related_name="+")

        class Meta:
            app_label = "library"

    # users and categories need each other (users' side is nullable): users
    # first, then revisions, which only wait for users, then categories.
    assert dependency_order([[Revision], [User], [Category]]) == [1, 0, 2]


def test_natural_key_dependencies_count(registry):
    class Shelf(Named):
        class Meta:
            app_label = "library"

    class Label(Named):
        class Meta:
            app_label = "library"

    def natural_key(self):
        return ()

    natural_key.dependencies = ["library.shelf", "gone.model"]
    Label.natural_key = natural_key
    assert list(model_dependencies(Label)) == [(Shelf, True)]
    assert dependency_order([[Label], [Shelf]]) == [1, 0]


# ---- unloadable_cycles -------------------------------------------------------------


def test_two_data_files_needing_each_other_by_natural_keys_are_reported(registry):
    farm()
    problems = unloadable_cycles(
        [definition("hens", "library.Hen"), definition("eggs", "library.Egg")],
        registry,
    )
    assert problems == [
        "'library.Hen' and 'library.Egg' (definitions 'hens' and 'eggs') reference "
        "each other by non-nullable foreign keys written as natural keys "
        "(library.Hen.egg -> library.Egg, library.Egg.hen -> library.Hen), so no load "
        "can save any of their rows: make one of these foreign keys nullable, or turn "
        "'natural_foreign' off on definition 'hens' or 'eggs'"
    ]


def test_a_cycle_inside_one_definition_is_reported_too(registry):
    farm()
    (problem,) = unloadable_cycles(
        [definition("farm", "library.Egg", "library.Hen")], registry
    )
    assert problem.startswith(
        "'library.Egg' and 'library.Hen' (definition 'farm') reference each other"
    )
    assert problem.endswith("turn 'natural_foreign' off on definition 'farm'")


@pytest.mark.parametrize(
    ("options", "definitions"),
    [
        ({"egg_hen_null": True}, [("hens", True), ("eggs", True)]),
        ({"egg_natural": False}, [("hens", True), ("eggs", True)]),
        ({}, [("hens", False), ("eggs", True)]),
        ({}, [("hens", True)]),
    ],
    ids=["nullable", "no-natural-key", "primary-keys", "one-side-dumped"],
)
def test_what_a_load_can_satisfy_is_not_a_cycle(registry, options, definitions):
    farm(**options)
    labels = {"hens": "library.Hen", "eggs": "library.Egg"}
    chosen = [
        definition(name, labels[name], natural_foreign=nf) for name, nf in definitions
    ]
    assert unloadable_cycles(chosen, registry) == []


def test_longer_cycles_name_every_model(registry):
    class Rock(Named):
        paper = models.ForeignKey("Paper", models.CASCADE, related_name="+")

        class Meta:
            app_label = "library"

    class Paper(Named):
        scissors = models.ForeignKey("Scissors", models.CASCADE, related_name="+")

        class Meta:
            app_label = "library"

    class Scissors(Named):
        rock = models.ForeignKey(Rock, models.CASCADE, related_name="+")

        class Meta:
            app_label = "library"

    for model in (Rock, Paper, Scissors):
        natural(model)
    (problem,) = unloadable_cycles(
        [
            definition("rocks", "library.Rock"),
            definition("papers", "library.Paper", "library.Scissors"),
        ],
        registry,
    )
    assert problem.startswith(
        "'library.Rock', 'library.Paper' and 'library.Scissors' (definitions 'rocks' "
        "and 'papers')"
    )
    assert "library.Scissors.rock -> library.Rock" in problem


def test_the_sandbox_definitions_have_no_cycle():
    assert unloadable_cycles(load_definitions(django_settings.DISKETTE_APPS)) == []


# ---- as a user meets it: manage.py check and diskette_dump --check ------------------

FARM_MODELS = """
from django.db import models


class ByName(models.Manager):
    def get_by_natural_key(self, name):
        return self.get(name=name)


class Hen(models.Model):
    name = models.CharField(max_length=20, unique=True)
    egg = models.ForeignKey("Egg", models.CASCADE, related_name="+")
    objects = ByName()

    def natural_key(self):
        return (self.name,)


class Egg(models.Model):
    name = models.CharField(max_length=20, unique=True)
    hen = models.ForeignKey(Hen, models.CASCADE, related_name="+")
    objects = ByName()

    def natural_key(self):
        return (self.name,)
"""


@pytest.mark.slow
def test_check_warns_and_the_dump_refuses_an_unloadable_cycle(sandbox_env, tmp_path):
    package = tmp_path / "farm"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(FARM_MODELS)
    (tmp_path / "farmsettings.py").write_text(
        textwrap.dedent(
            """\
            from sandbox.settings import *  # noqa: F403
            INSTALLED_APPS = [*INSTALLED_APPS, "farm"]  # noqa: F405
            DISKETTE_APPS = [
                ["hens", {"models": ["farm.Hen"], "natural_foreign": True}],
                ["eggs", {"models": ["farm.Egg"], "natural_foreign": True}],
            ]
            """
        )
    )
    env = dict(
        sandbox_env,
        DJANGO_SETTINGS_MODULE="farmsettings",
        PYTHONPATH=f"{REPO_ROOT}:{tmp_path}",
    )
    cycle = (
        "DISKETTE_APPS: 'farm.Hen' and 'farm.Egg' (definitions 'hens' and 'eggs') "
        "reference each other by non-nullable foreign keys written as natural keys "
        "(farm.Hen.egg -> farm.Egg, farm.Egg.hen -> farm.Hen)"
    )
    result = run_manage("check", env=env)
    assert result.returncode == 0, result.stderr  # other commands go on
    (line,) = [line for line in result.stderr.splitlines() if "(diskette." in line]
    assert line.startswith(f"?: (diskette.E017) {cycle}")
    result = run_manage("diskette_dump", "--check", env=env)
    assert result.returncode == 3, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"CommandError: {cycle}, so no load can save")


# ---- the order a load takes data files in -------------------------------------


def test_data_files_are_ordered_after_their_parents_and_targets():
    order = data_file_order(
        [["library.EBook"], ["library.Book", "library.Publisher"], [], ["sites.Site"]]
    )
    assert order.index(1) < order.index(0)
    assert order.index(2) < order.index(3)  # files that nothing orders keep theirs


def test_receivers_see_the_parent_row_of_a_child_in_an_earlier_data_file(
    seeded, tmp_path
):
    """A child table's file named before its parent's (a hand-written order): the
    load takes the parent's first, so a receiver of the child (Wagtail reads a
    page's locale there) finds its parent row."""
    from django.db.models.signals import pre_save

    from diskette import api
    from sandbox.library.models import Book, EBook

    child_first = [
        ["ebooks", {"models": ["library.EBook"], "natural_foreign": True}],
        ["auth", {"models": ["auth.User", "auth.Group"], "natural_foreign": True}],
        [
            "library",
            {
                "models": ["library"],
                "excludes": ["library.EBook"],
                "natural_foreign": True,
            },
        ],
    ]
    archive = api.dump(
        destination=tmp_path, definitions=child_first, with_storages=False
    ).path
    seen: list[bool] = []

    def parent_exists(sender, instance, raw, **kwargs):
        seen.append(Book.objects.filter(pk=instance.pk).exists())

    pre_save.connect(parent_exists, sender=EBook)
    try:
        api.load(archive, flush=True, with_storages=False)
    finally:
        pre_save.disconnect(parent_exists, sender=EBook)
    assert seen and all(seen)
    assert len(seen) == EBook.objects.count()
