"""Background work, enqueued when the writing transaction commits.

The services ask for a task by its name (:func:`after_commit`); ``tasks.py`` registers
its django-tasks functions here (:func:`register`) and imports the services it calls.
So the services never import ``tasks.py``, and the two modules do not import each
other. ``apps.py`` imports ``tasks.py`` when the app is ready.
"""

from django.db import transaction

_tasks = {}


def register(task):
    """Make a django-tasks ``Task`` enqueueable by its function's name."""
    _tasks[task.name] = task
    return task


def after_commit(name, *args):
    """Enqueue the task ``name`` with ``args`` once the current transaction commits
    (at once outside one). An unknown name is a bug: it raises ``KeyError`` now."""
    task = _tasks[name]
    transaction.on_commit(lambda: task.enqueue(*args))
