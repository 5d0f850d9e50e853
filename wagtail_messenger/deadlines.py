"""Wall-clock deadlines for storage calls made while a person waits.

botocore's ``connect_timeout`` and ``read_timeout`` bound each socket operation, not a
request: an S3 endpoint (or a proxy in front of it) that trickles its answer a few bytes
at a time never lets one read wait long enough to time out, and held an upload 25.8 s
against a 4 s budget. A :class:`Deadline` bounds the whole thing instead: the storage
call runs on one of a few storage threads, and the request thread waits for it until
the deadline, then raises :class:`StorageTimeout` (an ``OSError``, so
``storage.storage_errors()`` catches it) and answers the person.

Python cannot interrupt a thread blocked in a socket read, so a call that missed its
deadline goes on in the background until the storage answers or botocore's per-read
timeout ends it; its ``on_late`` callback then undoes what it did (deletes the object
an upload wrote after all, closes a file opened too late). What nothing could undo, such
as an object S3 stored before it went dark, is an orphan that the maintenance job
``purge_orphan_files`` deletes after a day.

At most :data:`THREADS` storage calls run at once per process; when that many are stuck,
further calls wait in line and fail at their own deadline: a slow S3 costs a bounded
number of threads, never every request thread of the site.
"""

import logging
import os
import queue
import threading
import time

from .conf import get_setting

logger = logging.getLogger(__name__)

#: Storage threads per process (started when first needed, daemons: they never hold up
#: the exit of a process).
THREADS = 8


class StorageTimeout(TimeoutError):
    """The storage did not finish within the deadline (the call may go on in the
    background; see the module docstring)."""


class _Call:
    def __init__(self, function, args, on_late):
        self.function, self.args, self.on_late = function, args, on_late
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.abandoned = False
        self.result = self.error = None

    def run(self):
        with self.lock:
            if self.abandoned:  # its deadline passed while it waited in line
                return
        try:
            result, error = self.function(*self.args), None
        except BaseException as exc:  # handed to the waiting thread, or logged
            result, error = None, exc
        with self.lock:
            self.result, self.error = result, error
            self.done.set()
            late = self.abandoned
        if late and self.on_late is not None:
            try:
                self.on_late(result, error)
            except Exception:
                logger.exception("Cleaning up after a storage call that missed its deadline")
        elif late and error is not None:
            logger.info("A storage call that missed its deadline failed: %r", error)


class _Threads:
    """A few daemon threads taking calls from one queue (restarted after a fork)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pid = None

    def submit(self, call):
        with self._lock:
            if self._pid != os.getpid():
                self._pid, self._queue, self._started, self._idle = os.getpid(), queue.Queue(), 0, 0
            if self._idle == 0 and self._started < THREADS:
                self._started += 1
                threading.Thread(
                    target=self._work, args=(self._queue,), name="messenger-storage", daemon=True
                ).start()
            self._queue.put(call)

    def _work(self, calls):
        while True:
            with self._lock:
                self._idle += 1
            call = calls.get()
            with self._lock:
                self._idle -= 1
            call.run()


_threads = _Threads()


class Deadline:
    """One wall-clock budget shared by the storage calls made for one request (the
    upload, and the clean-up if saving the message fails after it)."""

    def __init__(self, seconds=None):
        if seconds is None:
            seconds = get_setting("STORAGE_TIMEOUT")
        self.seconds = float(seconds)
        self.ends = time.monotonic() + self.seconds

    def remaining(self):
        return max(0.0, self.ends - time.monotonic())

    def run(self, function, *args, on_late=None):
        """``function(*args)``, or :class:`StorageTimeout` once the deadline passed.

        ``on_late(result, error)`` runs on the storage thread if the call ends after
        the caller gave up (``error`` is the exception it raised, else ``None``).
        """
        call = _Call(function, args, on_late)
        _threads.submit(call)
        finished = call.done.wait(self.remaining())
        with call.lock:
            if not finished and not call.done.is_set():
                call.abandoned = True
                raise StorageTimeout(
                    f"The storage did not answer within {self.seconds:g} s "
                    "(WAGTAILMESSENGER_STORAGE_TIMEOUT)."
                )
        if call.error is not None:
            raise call.error
        return call.result
