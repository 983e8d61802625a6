"""A tiny Celery app for fairflow's Flower tests. Broker and backend come from FFTASKS_REDIS_URL."""
import os
import time

from celery import Celery

REDIS = os.environ.get("FFTASKS_REDIS_URL", "redis://127.0.0.1:6379")
app = Celery("fftasks", broker=f"{REDIS}/0", backend=f"{REDIS}/1")
app.conf.worker_send_task_events = True  # without task events Flower's /api/tasks stays empty
app.conf.task_send_sent_event = True


@app.task
def add(x, y):
    return x + y


@app.task
def nap(seconds):
    """Stays active long enough for `flower tasks --state STARTED` to see it."""
    time.sleep(seconds)
    return seconds


@app.task
def fail():
    raise RuntimeError("fairflow test failure")
