"""SynchronizeRepository: bring the DAG repository onto EFS now (the seed's second example).

The stack's git-sync service syncs every GITSYNC_PERIOD; this DAG does one sync at once, in git-sync's own
layout under the DAGs root (/shared-dags): a checkout per commit in .worktrees/<sha>, and the `repo` link
swapped atomically to the new one, so the scheduler never sees a half-written tree."""
import os
import subprocess
import tempfile

import pendulum

try:
    from airflow.sdk import DAG, task  # Airflow 3
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task

ROOT = "/shared-dags"
LINK = "repo"

with DAG("SynchronizeRepository", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         tags=["fairflow", "example"], default_args={"owner": "Brett", "retries": 0}):

    @task
    def sync_repository():
        repo = os.environ["DAG_REPOSITORY"]
        link = os.path.join(ROOT, LINK)
        before = os.path.basename(os.path.realpath(link)) if os.path.islink(link) else None
        head = subprocess.run(["git", "ls-remote", repo, "HEAD"], check=True, capture_output=True,
                              text=True).stdout.split()[0]
        if head == before:
            print(f"{repo} is at {head[:12]}: already synced")
            return head
        worktrees = os.path.join(ROOT, ".worktrees")
        os.makedirs(worktrees, exist_ok=True)
        target = os.path.join(worktrees, head)
        if not os.path.isdir(target):
            tmp = tempfile.mkdtemp(dir=worktrees, prefix=".sync-")
            subprocess.run(["git", "clone", "--quiet", "--depth", "1", repo, tmp], check=True)
            os.rename(tmp, target)
        new_link = os.path.join(ROOT, f".{LINK}.new")
        if os.path.lexists(new_link):
            os.unlink(new_link)
        os.symlink(os.path.join(".worktrees", head), new_link)
        os.replace(new_link, link)
        print(f"synced {repo}: {before and before[:12]} -> {head[:12]}")
        return head

    sync_repository()
