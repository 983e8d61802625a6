"""The local AWS runs the stack: ECS tasks as process groups, RDS as MariaDB, ElastiCache and the Redis
service as redis-server, EFS as directories, the ALB as a real proxy with health checks, awslogs into
CloudWatch Logs, SSM Run Command on the bastion, CloudFormation waiting on services.

On with `scripts/local-aws --run` (LOCAL_AWS_RUN=1). Off, the old stand-in (moto_ext/runtime.py) applies.
Each part is a module with apply(); DESIGN.md says who owns what and how they talk.
"""
from . import core

# Applied in this order; a part that is not written yet is a module whose apply() does nothing.
PARTS = ["dispatch", "efs", "rds", "elasticache", "creds", "awslogs", "ecs_tasks", "ecs_services",
         "ecs_protection", "autoscaling", "elb", "ssm", "cfn_wait"]


def apply():
    if not core.enabled():
        return False
    import importlib
    core.start()
    from . import net
    net.apply_moto_addresses()
    for name in PARTS:
        mod = importlib.import_module(f"{__name__}.{name}")
        mod.apply()
    return True
