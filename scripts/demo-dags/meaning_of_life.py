"""MeaningOfLifeDag: one task on the Celery worker (the seed's first example)."""
import socket

import pendulum

try:
    from airflow.sdk import DAG, task  # Airflow 3
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task

with DAG("MeaningOfLifeDag", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         tags=["fairflow", "example"], default_args={"owner": "Brett", "retries": 0}):

    @task
    def runs_on_worker():
        answer = 6 * 7
        print(f"The meaning of life is {answer} (worker {socket.gethostname()})")
        return answer

    runs_on_worker()
