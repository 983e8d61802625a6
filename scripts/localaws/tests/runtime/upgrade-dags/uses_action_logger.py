"""UsesActionLogger: imports airflow.utils.log.action_logger, which Airflow 3.3 removed — it parses on 3.2 and
breaks on 3.3 (the upgrade's import test must refuse the upgrade)."""
import pendulum
from airflow.sdk import DAG, task
from airflow.utils.log import action_logger  # noqa: F401  (gone in Airflow 3.3)

with DAG("UsesActionLogger", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False):

    @task
    def hello():
        print("hello")

    hello()
