"""Dependencies between models: the order of generated definitions, and unloadable cycles.

A model depends on the models its foreign keys, one-to-one and many-to-many fields
point to, and on those its ``natural_key.dependencies`` name (as Django's
``serializers.sort_dependencies`` reads them). :func:`dependency_order` sorts
groups of models (the generated definitions) so that each comes after the groups
it depends on, keeping the given order otherwise.

The load does not need that order: it defers references to rows of a later data
file. What no order and no deferral can load is a cycle of non-nullable foreign
keys written as natural keys: each row needs another row to exist before it can
be saved, and a natural key cannot be looked up before its row exists.
:func:`unloadable_cycles` finds those cycles in the definitions of a dump.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from django.apps import apps as django_apps
from django.apps.registry import Apps
from django.db.models import Field, Model

from diskette.definitions.model import Definition


def _target(field: Field) -> type[Model] | None:
    model = field.remote_field.model
    return None if isinstance(model, str) else model._meta.concrete_model


def model_dependencies(model: type[Model]) -> Iterator[tuple[type[Model], bool]]:
    """``(model depended on, hard)`` for each dependency of ``model``.

    Hard dependencies are non-nullable foreign keys (a row cannot be saved
    without its target) and natural key dependencies; nullable foreign keys and
    many-to-many fields are soft: they can be filled in after the row is saved.
    """
    meta = model._meta
    for field in meta.local_fields:
        if field.remote_field is not None and (target := _target(field)):
            yield target, not field.null
    for field in meta.local_many_to_many:
        if target := _target(field):
            yield target, False
    for label in getattr(getattr(model, "natural_key", None), "dependencies", ()):
        try:
            yield meta.apps.get_model(label)._meta.concrete_model, True
        except (LookupError, ValueError):
            continue  # a dependency on an app that is not installed


def dependency_order(groups: Sequence[Iterable[type[Model]]]) -> list[int]:
    """The indexes of ``groups``, each group after the groups its models depend on.

    Stable: among the groups that may come next, the first in the given order
    does. A cycle is broken at a soft dependency: the first group of a cycle
    whose hard dependencies are met comes first (a group that merely waits for
    a cycle waits on); without one, the first group left does.
    """
    groups = [list(models) for models in groups]
    owner = {model: index for index, models in enumerate(groups) for model in models}
    hard: list[set[int]] = [set() for _ in groups]
    soft: list[set[int]] = [set() for _ in groups]
    for index, models in enumerate(groups):
        for model in models:
            for target, is_hard in model_dependencies(model):
                other = owner.get(target)
                if other is not None and other != index:
                    (hard if is_hard else soft)[index].add(other)
    done: set[int] = set()
    order: list[int] = []
    remaining = list(range(len(groups)))
    while remaining:
        pick = next((i for i in remaining if hard[i] | soft[i] <= done), None)
        if pick is None:
            edges = [hard[i] | soft[i] for i in range(len(groups))]
            pick = next(
                (
                    i
                    for i in remaining
                    if hard[i] <= done
                    and all(_reaches(j, i, edges, done) for j in edges[i] - done)
                ),
                remaining[0],
            )
        order.append(pick)
        done.add(pick)
        remaining.remove(pick)
    return order


def _reaches(start: int, goal: int, edges: list[set[int]], done: set[int]) -> bool:
    """Whether ``goal`` is a dependency of ``start``, through groups not placed yet."""
    seen, todo = {start}, [start]
    while todo:
        for other in edges[todo.pop()] - done:
            if other == goal:
                return True
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return False


# ---- cycles no load can satisfy ---------------------------------------------------


def _natural_edges(
    owner: dict[type[Model], Definition],
) -> dict[type[Model], list[tuple[str, type[Model]]]]:
    """For each dumped model, its non-nullable references written as natural keys.

    As the serializer writes them: a foreign key of a ``natural_foreign``
    definition to a model with ``natural_key()``. Parent links and other
    primary keys travel as primary key values, and a reference to the model
    itself is a matter of row order, not of model order: both are left out.
    """
    edges: dict[type[Model], list[tuple[str, type[Model]]]] = {}
    for model, definition in owner.items():
        if not definition.natural_foreign:
            continue
        for field in model._meta.local_fields:
            if field.remote_field is None or field.null or not field.serialize:
                continue
            target = _target(field)
            if (
                target is None
                or target is model
                or target not in owner
                or not hasattr(target, "natural_key")
            ):
                continue
            edges.setdefault(model, []).append(
                (f"{model._meta.label}.{field.name}", target)
            )
    return edges


def _cycles(
    nodes: list[type[Model]], edges: dict[type[Model], list[tuple[str, type[Model]]]]
) -> list[list[type[Model]]]:
    """The strongly connected components of more than one model (Tarjan, iterative)."""
    index: dict[type[Model], int] = {}
    low: dict[type[Model], int] = {}
    stack: list[type[Model]] = []
    on_stack: set[type[Model]] = set()
    found: list[list[type[Model]]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for _, target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(edges.get(target, ()))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member is node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component, key=nodes.index))
    return found


def _names(items: list[str], word: str = "and") -> str:
    quoted = [repr(item) for item in items]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} {word} {quoted[-1]}"


def unloadable_cycles(
    definitions: Iterable[Definition], apps: Apps | None = None
) -> list[str]:
    """One line per cycle of the dumped models that no load can satisfy.

    A cycle is a set of models (in one data file or several) that reference each
    other through non-nullable foreign keys written as natural keys. Every row
    of such models needs another one to be saved first, so none can be. The
    line names the models, their definitions, the foreign keys and the fix.
    ``apps`` is the registry the labels name (default: the project's).
    """
    apps = apps or django_apps
    owner: dict[type[Model], Definition] = {}
    for definition in definitions:
        for label in definition.models:
            try:
                model = apps.get_model(label)
            except (LookupError, ValueError):
                continue  # a dump_command definition may list anything
            if not model._meta.proxy:
                owner.setdefault(model, definition)
    edges = _natural_edges(owner)
    problems = []
    for component in _cycles(list(owner), edges):
        members = set(component)
        names = list(dict.fromkeys(owner[model].name for model in component))
        fields = [
            f"{field} -> {target._meta.label}"
            for model in component
            for field, target in edges.get(model, ())
            if target in members
        ]
        which = "definition" if len(names) == 1 else "definitions"
        problems.append(
            f"{_names([m._meta.label for m in component])} ({which} "
            f"{_names(names)}) reference each other by non-nullable foreign keys "
            f"written as natural keys ({', '.join(fields)}), so no load can save "
            "any of their rows: make one of these foreign keys nullable, or turn "
            f"'natural_foreign' off on definition {_names(names, 'or')}"
        )
    return problems


def data_file_order(labels_per_file: Sequence[Iterable[str]]) -> list[int]:
    """The order to load data files in, from the model labels each one holds:
    :func:`dependency_order`, so that a row's parent rows and the targets of its
    foreign keys are written, and their signals sent, before it (Wagtail's
    receivers read a page's locale when its child row is saved). Labels of
    models this project does not have are ignored; files without labels keep
    their place relative to each other."""
    groups = []
    for labels in labels_per_file:
        models = []
        for label in labels:
            try:
                models.append(django_apps.get_model(label)._meta.concrete_model)
            except (LookupError, ValueError):
                continue
        groups.append(models)
    return dependency_order(groups)
