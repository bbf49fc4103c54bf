"""django-tasks' immediate backend, without the call that fails on this Python.

Wagtail 7.2 updates its search and reference indexes through django-tasks. Its
immediate backend builds each result with ``TaskResult[T](...)``; calling a
generic alias sets ``__orig_class__`` on the instance, and on Python 3.11 the
``__setattr__`` of a frozen dataclass with slots then raises ``TypeError``
(``super(type, obj)``) instead of the ``AttributeError`` typing expects, so every
save of an indexed page or image fails. Building the result from the class itself
avoids it; the rest is the immediate backend unchanged.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django_tasks.backends.immediate import ImmediateBackend as BaseImmediateBackend
from django_tasks.base import Task, TaskResult, TaskResultStatus
from django_tasks.utils import get_random_id


class ImmediateBackend(BaseImmediateBackend):
    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        task_result = TaskResult(
            task=task,
            id=get_random_id(),
            status=TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        if self._get_enqueue_on_commit_for_task(task) is not False:
            transaction.on_commit(partial(self._execute_task, task_result))
        else:
            self._execute_task(task_result)
        return task_result
