"""ECSExternalTasks: on-demand Fargate tasks through EcsRunTaskOperator (the seed's third example).

The stack's Airflow containers get CLUSTER, SUBNETS and SECURITY_GROUP in their environment. The external
task definitions' families are BigGuys-<stack> and LittleGuys-<stack>; `find_task_definitions` looks them up
(latest ACTIVE revision) with their awslogs settings, so the operator splices each container's CloudWatch
log into the Airflow task log. The operator waits for the task to stop and fails if the exit code is not 0."""
import os

import pendulum

try:
    from airflow.sdk import DAG, task  # Airflow 3
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task
from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

NETWORK = {"awsvpcConfiguration": {"subnets": [s for s in os.environ.get("SUBNETS", "").split(",") if s],
                                   "securityGroups": [os.environ.get("SECURITY_GROUP", "")],
                                   "assignPublicIp": "DISABLED"}}
KINDS = {"big": ("BigGuys-", "BigTaskContainer"), "little": ("LittleGuys-", "LittleTaskContainer")}

with DAG("ECSExternalTasks", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         tags=["fairflow", "example"], default_args={"owner": "Brett", "retries": 0}):

    @task
    def find_task_definitions():
        import boto3
        ecs = boto3.client("ecs")
        out = {}
        for size, (prefix, container) in KINDS.items():
            families = ecs.list_task_definition_families(familyPrefix=prefix, status="ACTIVE")["families"]
            if not families:
                raise RuntimeError(f"no ACTIVE task definition family starts with {prefix}")
            td = ecs.describe_task_definition(taskDefinition=families[0])["taskDefinition"]
            opts = next(c for c in td["containerDefinitions"] if c["name"] == container)["logConfiguration"]["options"]
            out[size] = {"family": td["family"], "group": opts["awslogs-group"],
                         "prefix": f"{opts['awslogs-stream-prefix']}/{container}"}
        print(out)
        return out

    found = find_task_definitions()
    previous = found
    for size, (prefix, container) in KINDS.items():
        run = EcsRunTaskOperator(
            task_id=f"{size}_task",
            cluster=os.environ.get("CLUSTER", ""),
            task_definition="{{ ti.xcom_pull(task_ids='find_task_definitions')['%s']['family'] }}" % size,
            launch_type="FARGATE",
            network_configuration=NETWORK,
            overrides={"containerOverrides": [{
                "name": container,
                "command": ["python3", "-c",
                            f"import os, platform; print('hello from the {size} task on', platform.node()); "
                            "print('shared volume:', sorted(os.listdir('/shared-volume')))"],
            }]},
            awslogs_group="{{ ti.xcom_pull(task_ids='find_task_definitions')['%s']['group'] }}" % size,
            awslogs_stream_prefix="{{ ti.xcom_pull(task_ids='find_task_definitions')['%s']['prefix'] }}" % size,
            awslogs_region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            waiter_delay=2,
            waiter_max_attempts=150,
        )
        previous >> run
        previous = run
