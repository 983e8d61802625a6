"""ECSExternalTasks: on-demand Fargate tasks through EcsRunTaskOperator (the seed's third example).

The stack's Airflow containers get what this needs in their environment: CLUSTER, SUBNETS, SECURITY_GROUP,
the external task families (BIG_TASK_FAMILY, LITTLE_TASK_FAMILY: the latest ACTIVE revision runs) and their
log group (EXTERNAL_TASK_LOG_GROUP), so the operator splices each container's CloudWatch log into the Airflow
task log. The operator waits for the task to stop and fails if the container's exit code is not 0."""
import os

import pendulum

try:
    from airflow.sdk import DAG  # Airflow 3
except ImportError:  # Airflow 2
    from airflow import DAG
from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

NETWORK = {"awsvpcConfiguration": {"subnets": [s for s in os.environ.get("SUBNETS", "").split(",") if s],
                                   "securityGroups": [os.environ.get("SECURITY_GROUP", "")],
                                   "assignPublicIp": "DISABLED"}}
KINDS = [("big", "BIG_TASK_FAMILY", "BigTaskContainer"), ("little", "LITTLE_TASK_FAMILY", "LittleTaskContainer")]

with DAG("ECSExternalTasks", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         tags=["fairflow", "example"], default_args={"owner": "Brett", "retries": 0}):
    previous = None
    for size, family_env, container in KINDS:
        run = EcsRunTaskOperator(
            task_id=f"{size}_task",
            cluster=os.environ.get("CLUSTER", ""),
            task_definition=os.environ.get(family_env, ""),
            launch_type="FARGATE",
            network_configuration=NETWORK,
            overrides={"containerOverrides": [{
                "name": container,
                "command": ["python3", "-c",
                            f"import os, platform; print('hello from the {size} task on', platform.node()); "
                            "print('shared volume:', sorted(os.listdir('/shared-volume')))"],
            }]},
            awslogs_group=os.environ.get("EXTERNAL_TASK_LOG_GROUP"),
            awslogs_stream_prefix=f"FairflowExternalTask/{container}",
            awslogs_region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            waiter_delay=2,
            waiter_max_attempts=150,
        )
        if previous:
            previous >> run
        previous = run
