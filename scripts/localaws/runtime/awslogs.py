"""The awslogs log driver: a container's stdout and stderr lines into moto's CloudWatch Logs.

`open_stream(...)` checks the log configuration the way the ECS agent does at task start (the group must
exist unless `awslogs-create-group` is "true") and creates the stream
`<awslogs-stream-prefix>/<container-name>/<task-id>` (ECS's naming; without a prefix, the task id).
`pump(stream, fileobj)` reads lines on its own thread (never holding core.LOCK), time-stamps each line
as it arrives, and a single flusher thread puts batches (every 0.2 s, up to 1000 events) under LOCK.
Every container's last lines are also kept in memory (`Stream.tail`) for diagnostics.
"""
import collections
import threading
import time

from . import core

FLUSH_EVERY = 0.2
MAX_EVENT = 256 * 1024 - 26
_lock = threading.Lock()
_pending = collections.OrderedDict()   # Stream -> [events]
_flusher = None
_wake = threading.Event()


class LogSetupError(Exception):
    """The log driver could not start: ECS's ResourceInitializationError text."""


class Stream:
    def __init__(self, account, region, group, name):
        self.account, self.region, self.group, self.name = account, region, group, name
        self.tail = collections.deque(maxlen=50)
        self.done = threading.Event()

    def __repr__(self):
        return f"{self.group}:{self.name}"


def stream_name(options, container_name, task_id):
    prefix = options.get("awslogs-stream-prefix")
    return f"{prefix}/{container_name}/{task_id}" if prefix else task_id


def open_stream(account, region, options, container_name, task_id):
    """A Stream for a container with logDriver awslogs (caller need not hold LOCK)."""
    from moto.logs.models import logs_backends
    region = options.get("awslogs-region") or region
    group = options.get("awslogs-group")
    if not group:
        raise LogSetupError("ResourceInitializationError: failed to validate logger args: "
                            "awslogs-group is required : exit status 1")
    name = stream_name(options, container_name, task_id)
    with core.LOCK:
        backend = logs_backends[account][region]
        if group not in backend.groups:
            if str(options.get("awslogs-create-group", "")).lower() == "true":
                backend.create_log_group(group, {})
            else:
                raise LogSetupError(
                    "ResourceInitializationError: failed to validate logger args: create stream has been "
                    "retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: "
                    "The specified log group does not exist. : exit status 1")
        if name not in backend.groups[group].streams:
            backend.create_log_stream(group, name)
    _ensure_flusher()
    return Stream(account, region, group, name)


def pump(stream, fileobj, also=None):
    """Reads fileobj (binary) line by line until EOF on a daemon thread; returns the thread."""
    def run():
        try:
            for raw in iter(fileobj.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n").rstrip("\r")
                ts = int(time.time() * 1000)
                if also:
                    also(line)
                if stream is None:
                    continue
                stream.tail.append(line)
                if line == "":
                    continue   # CloudWatch Logs rejects empty messages; the awslogs driver skips them
                # an event holds at most 256 KiB (with 26 bytes of overhead): longer lines are split
                parts = [line[i:i + MAX_EVENT] for i in range(0, len(line), MAX_EVENT)]
                with _lock:
                    _pending.setdefault(stream, []).extend({"timestamp": ts, "message": p} for p in parts)
        except (OSError, ValueError):
            pass
        finally:
            try:
                fileobj.close()
            except OSError:
                pass
            if stream is not None:
                flush()
                stream.done.set()
    t = threading.Thread(target=run, name=f"awslogs {stream}", daemon=True)
    t.start()
    return t


def flush():
    """Puts every pending event now (LOCK taken per batch, never while reading pipes)."""
    from moto.logs.models import logs_backends
    with _lock:
        batches = list(_pending.items())
        _pending.clear()
    for stream, events in batches:
        for i in range(0, len(events), 1000):
            chunk = events[i:i + 1000]
            try:
                with core.LOCK:
                    backend = logs_backends[stream.account][stream.region]
                    if stream.group not in backend.groups:
                        continue   # deleted meanwhile (e.g. the stack's log group went away)
                    if stream.name not in backend.groups[stream.group].streams:
                        backend.create_log_stream(stream.group, stream.name)
                    backend.put_log_events(stream.group, stream.name, chunk)
            except Exception as e:  # noqa: BLE001 - logs are best effort, never kill the task
                core.log(f"awslogs {stream}: {e}")


def _ensure_flusher():
    global _flusher
    with _lock:
        if _flusher is not None:
            return

        def loop():
            while not core.shutting_down():
                time.sleep(FLUSH_EVERY)
                flush()
        _flusher = threading.Thread(target=loop, name="awslogs flusher", daemon=True)
        _flusher.start()
        core.on_shutdown(flush)


def apply():
    pass
