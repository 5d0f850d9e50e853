"""A primary/replica router as production sites use one: every read goes to the
"replica" alias (a test mirror of "default", see tests/settings.py), every write to
"default". tests/test_read_replica.py runs the posting paths under it."""


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        return "replica"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"
