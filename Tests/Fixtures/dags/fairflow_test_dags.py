"""fairflow's own test DAGs (Airflow 2.x and 3.x).

fairflow_ok    prints FAIRFLOW_MARKER and the conf it received, then succeeds.
fairflow_fail  prints a line, then fails in task `boom` (after `prepare` succeeded).
fairflow_idle, fairflow_idle_cli, fairflow_idle_list  do nothing; each is paused/unpaused by one test only
               (so tests may run in parallel), and a paused one must be refused by `trigger`.
All start paused (Airflow's default), so the tests exercise unpausing too. Tests never pause ok/fail.
"""
import pendulum

try:
    from airflow.sdk import DAG  # Airflow 3
except ImportError:
    from airflow import DAG  # Airflow 2
try:
    from airflow.providers.standard.operators.bash import BashOperator  # Airflow 3
except ImportError:
    from airflow.operators.bash import BashOperator  # Airflow 2

START = pendulum.datetime(2024, 1, 1, tz="UTC")
ARGS = {"owner": "fairflow", "retries": 0}

with DAG("fairflow_ok", schedule=None, start_date=START, catchup=False, tags=["fairflow", "ok"],
         default_args=ARGS):
    BashOperator(task_id="hello", bash_command='echo "FAIRFLOW_MARKER hello conf=$CONF"',
                 env={"CONF": "{{ dag_run.conf | tojson }}"}, append_env=True)

with DAG("fairflow_fail", schedule=None, start_date=START, catchup=False, tags=["fairflow", "fail"],
         default_args=ARGS):
    prepare = BashOperator(task_id="prepare", bash_command='echo "FAIRFLOW_MARKER preparing"')
    boom = BashOperator(task_id="boom", bash_command='echo "FAIRFLOW_MARKER about to fail"; exit 3')
    prepare >> boom

for dag_id, tag in [("fairflow_idle", "idle"), ("fairflow_idle_cli", "idle_cli"), ("fairflow_idle_list", "idle_list")]:
    with DAG(dag_id, schedule=None, start_date=START, catchup=False, tags=["fairflow", tag],
             default_args={"owner": "someone_else"}):
        BashOperator(task_id="noop", bash_command="true")
