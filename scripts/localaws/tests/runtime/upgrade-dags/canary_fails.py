"""CanaryFails: a canary that fails on Airflow 3.3 — the upgrade test's forced failure at the verify step."""
import pendulum
import airflow
from airflow.sdk import DAG, task

with DAG("CanaryFails", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         default_args={"retries": 0}):

    @task
    def check_version():
        if airflow.__version__.startswith("3.3"):
            raise RuntimeError(f"this canary fails on Airflow {airflow.__version__}")
        print(f"fine on Airflow {airflow.__version__}")

    check_version()
