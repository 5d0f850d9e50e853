"""Background work: the services enqueue tasks by name (wagtail_messenger.queue), after
commit, and never import tasks.py, which imports them."""

import ast
from pathlib import Path

import pytest
from django.db import transaction

from wagtail_messenger import queue, tasks

PACKAGE = Path(tasks.__file__).parent


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield (node.module or ""), [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            yield from ((alias.name, []) for alias in node.names)


def test_no_service_imports_the_tasks_module():
    for path in (PACKAGE / "services").glob("*.py"):
        for module, names in imported_modules(path):
            assert not module.endswith("tasks") and "tasks" not in names, path.name


def test_every_task_is_enqueueable_by_name():
    defined = {name for name in dir(tasks) if hasattr(getattr(tasks, name), "enqueue")}
    assert defined and defined <= set(queue._tasks)


@pytest.mark.django_db(transaction=True)
def test_tasks_are_enqueued_when_the_transaction_commits(monkeypatch):
    from types import SimpleNamespace

    ran = []
    probe = SimpleNamespace(enqueue=lambda *args: ran.append(args))
    monkeypatch.setitem(queue._tasks, "probe", probe)
    with transaction.atomic():
        queue.after_commit("probe", 7, "x")
        assert ran == []
    assert ran == [(7, "x")]
    with pytest.raises(KeyError):
        queue.after_commit("no_such_task")
