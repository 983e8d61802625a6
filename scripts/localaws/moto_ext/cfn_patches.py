"""Fixes to moto's existing CloudFormation models and intrinsic functions.

- EFS: GetAtt FileSystem.Arn/FileSystemId, AccessPoint.Arn/AccessPointId, Ref AccessPoint → its id.
- ECS: TaskDefinition keeps every property (Fargate, awsvpc, cpu, roles, EFS volumes, secrets'
  valueFrom, ...); Service keeps launch type, network configuration, load balancers, service
  registries, deployment configuration, tags; Cluster keeps its name, tags and settings.
- EC2 VPC: EnableDnsHostnames / EnableDnsSupport honoured.
- RDS DBInstance: VPCSecurityGroups honoured (moto reads a non-CFN key).
- Dotted GetAtt (`!GetAtt R.Endpoint.Address`, `${R.PrimaryEndPoint.Address}`).
- `{{resolve:secretsmanager:...}}` and `{{resolve:ssm:...}}` dynamic references.
"""
import json
import re

from .check import require
from .util import bool_of, call, int_of, to_api

# ---------------------------------------------------------------- EFS


def _patch_efs():
    from moto.efs import models as efs
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    require(efs, "FileSystem", "AccessPoint")

    fs_attrs = {"Arn": "file_system_arn", "FileSystemId": "file_system_id"}
    ap_attrs = {"Arn": "access_point_arn", "AccessPointId": "access_point_id"}

    def make(attrs):
        def has_cfn_attr(cls, attr):
            return attr in attrs

        def get_cfn_attribute(self, attr):
            if attr not in attrs:
                raise UnformattedGetAttTemplateException()
            return getattr(self, attrs[attr])
        return classmethod(has_cfn_attr), get_cfn_attribute

    efs.FileSystem.has_cfn_attr, efs.FileSystem.get_cfn_attribute = make(fs_attrs)
    efs.AccessPoint.has_cfn_attr, efs.AccessPoint.get_cfn_attribute = make(ap_attrs)
    efs.AccessPoint.physical_resource_id = property(lambda self: self.access_point_id)


# ---------------------------------------------------------------- ECS


def _ecs_tags(tags):
    return [{"key": t["Key"], "value": str(t.get("Value", ""))} for t in (tags or [])] or None


def _name_of(v, attr):
    return getattr(v, attr) if hasattr(v, attr) else v


def _td_kwargs(p):
    td = to_api(p)
    return dict(family=p.get("Family"), container_definitions=td.get("containerDefinitions", []),
                volumes=td.get("volumes"), network_mode=p.get("NetworkMode"), tags=_ecs_tags(p.get("Tags")),
                placement_constraints=td.get("placementConstraints"),
                requires_compatibilities=p.get("RequiresCompatibilities"),
                cpu=str(p["Cpu"]) if p.get("Cpu") is not None else None,
                memory=str(p["Memory"]) if p.get("Memory") is not None else None,
                task_role_arn=p.get("TaskRoleArn"), execution_role_arn=p.get("ExecutionRoleArn"),
                proxy_configuration=td.get("proxyConfiguration"),
                inference_accelerators=td.get("inferenceAccelerators"), runtime_platform=td.get("runtimePlatform"),
                ipc_mode=p.get("IpcMode"), pid_mode=p.get("PidMode"), ephemeral_storage=td.get("ephemeralStorage"))


def _patch_ecs():
    from moto.ecs import models as ecs
    from moto.moto_api._internal import mock_random
    require(ecs, "TaskDefinition", "Service", "Cluster", "ecs_backends")

    def td_create(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        args = _td_kwargs(p)
        args["family"] = args["family"] or f"{kw.get('LogicalId', 'task')}-{int(mock_random.random() * 10**6)}"
        return call(ecs.ecs_backends[account_id][region_name].register_task_definition, **args)

    def td_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        # A task definition is immutable: AWS registers a new revision and deregisters the old one.
        p = cloudformation_json.get("Properties", {})
        backend = ecs.ecs_backends[account_id][region_name]
        args = _td_kwargs(p)
        args["family"] = args["family"] or original_resource.family
        new = call(backend.register_task_definition, **args)
        try:
            backend.deregister_task_definition(original_resource.arn)
        except Exception:  # noqa: BLE001 - already gone
            pass
        return new

    def svc_kwargs(p, name):
        net = to_api(p.get("NetworkConfiguration")) if p.get("NetworkConfiguration") else None
        if net and "awsvpcConfiguration" in net:
            net["awsvpcConfiguration"].setdefault("securityGroups", [])
        return dict(cluster_str=_name_of(p.get("Cluster", "default"), "name"),
                    service_name=p.get("ServiceName") or name,
                    desired_count=int_of(p.get("DesiredCount"), 1),
                    task_definition_str=_name_of(p.get("TaskDefinition"), "arn"),
                    load_balancers=to_api(p.get("LoadBalancers")), scheduling_strategy=p.get("SchedulingStrategy"),
                    tags=_ecs_tags(p.get("Tags")), deployment_controller=to_api(p.get("DeploymentController")),
                    launch_type=p.get("LaunchType"), service_registries=to_api(p.get("ServiceRegistries")),
                    platform_version=p.get("PlatformVersion"), propagate_tags=p.get("PropagateTags", "NONE"),
                    network_configuration=net, role_arn=p.get("Role"))

    def svc_create(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        svc = call(ecs.ecs_backends[account_id][region_name].create_service, **svc_kwargs(p, resource_name))
        dc = p.get("DeploymentConfiguration")
        if dc:
            svc.deployment_configuration = to_api(dc)
        if p.get("HealthCheckGracePeriodSeconds") is not None:
            svc.health_check_grace_period_seconds = int(p["HealthCheckGracePeriodSeconds"])
        if p.get("EnableExecuteCommand") is not None:
            svc.enable_execute_command = bool_of(p["EnableExecuteCommand"])
        return svc

    orig_svc_update = ecs.Service.update_from_cloudformation_json

    def svc_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        p = cloudformation_json.get("Properties", {})
        backend = ecs.ecs_backends[account_id][region_name]
        cluster = _name_of(p.get("Cluster", "default"), "name")
        name = p.get("ServiceName") or original_resource.name
        if name != original_resource.name:
            return orig_svc_update.__func__(cls, original_resource, new_resource_name, cloudformation_json,
                                            account_id, region_name)
        net = to_api(p.get("NetworkConfiguration")) if p.get("NetworkConfiguration") else None
        svc = backend.update_service({
            "cluster": cluster, "service": name, "task_definition": _name_of(p.get("TaskDefinition"), "arn"),
            "desired_count": int_of(p.get("DesiredCount")), "load_balancers": to_api(p.get("LoadBalancers")),
            "network_configuration": net, "service_registries": to_api(p.get("ServiceRegistries")),
            "launch_type": p.get("LaunchType"), "platform_version": p.get("PlatformVersion")})
        if p.get("DeploymentConfiguration"):
            svc.deployment_configuration = to_api(p["DeploymentConfiguration"])
        return svc

    def cluster_create(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        return call(ecs.ecs_backends[account_id][region_name].create_cluster,
                    cluster_name=p.get("ClusterName") or resource_name,
                    tags=[{"key": t["Key"], "value": t["Value"]} for t in p.get("Tags", [])],
                    cluster_settings=to_api(p.get("ClusterSettings")), configuration=to_api(p.get("Configuration")),
                    capacity_providers=p.get("CapacityProviders"),
                    default_capacity_provider_strategy=to_api(p.get("DefaultCapacityProviderStrategy")),
                    service_connect_defaults=to_api(p.get("ServiceConnectDefaults")))

    ecs.TaskDefinition.create_from_cloudformation_json = classmethod(td_create)
    ecs.TaskDefinition.update_from_cloudformation_json = classmethod(td_update)
    ecs.Service.create_from_cloudformation_json = classmethod(svc_create)
    ecs.Service.update_from_cloudformation_json = classmethod(svc_update)
    ecs.Cluster.create_from_cloudformation_json = classmethod(cluster_create)
    # Ref on a service is its ARN in AWS; GetAtt Name is its name (moto has both).


# ---------------------------------------------------------------- EC2 VPC, RDS


def _patch_vpc():
    from moto.ec2.models import vpcs
    require(vpcs, "VPC")
    orig = vpcs.VPC.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        vpc = orig(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        p = cloudformation_json.get("Properties", {})
        if "EnableDnsHostnames" in p:
            vpc.enable_dns_hostnames = bool_of(p["EnableDnsHostnames"])
        if "EnableDnsSupport" in p:
            vpc.enable_dns_support = bool_of(p["EnableDnsSupport"], True)
        return vpc
    vpcs.VPC.create_from_cloudformation_json = classmethod(create)


def _patch_subnet_association():
    """A real association (visible in DescribeRouteTables); its id is the physical id, as on AWS."""
    from moto.ec2.models import subnets, ec2_backends
    require(subnets, "SubnetRouteTableAssociation")
    cls_ = subnets.SubnetRouteTableAssociation

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json["Properties"]
        ec2 = ec2_backends[account_id][region_name]
        assoc = ec2.create_subnet_association(route_table_id=p["RouteTableId"], subnet_id=p["SubnetId"])
        assoc.association_id = ec2.associate_route_table(p["RouteTableId"], subnet_id=p["SubnetId"])
        return assoc
    cls_.create_from_cloudformation_json = classmethod(create)
    cls_.physical_resource_id = property(lambda self: getattr(self, "association_id", None) or self.route_table_id)


def _patch_physical_ids():
    """Physical ids moto leaves empty: SecurityGroupIngress (the rule id), RDS DBSubnetGroup (its name)."""
    from moto.ec2.models import security_groups, ec2_backends
    from moto.rds import models as rds
    require(security_groups, "SecurityGroupIngress")
    require(rds, "DBSubnetGroup")
    ing = security_groups.SecurityGroupIngress
    orig = ing.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        ec2 = ec2_backends[account_id][region_name]
        gid = cloudformation_json.get("Properties", {}).get("GroupId")
        group = ec2.get_security_group_from_id(gid) if gid else None
        before = {r.id for r in group.ingress_rules} if group is not None else set()
        obj = orig(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        group = group or obj.security_group
        new = [r.id for r in group.ingress_rules if r.id not in before]
        obj.rule_id = new[0] if new else None
        return obj
    ing.create_from_cloudformation_json = classmethod(create)
    ing.physical_resource_id = property(lambda self: getattr(self, "rule_id", None) or "")
    rds.DBSubnetGroup.physical_resource_id = property(lambda self: self.name)


def _patch_resource_names():
    """Generated S3 bucket names stay within 63 characters, as CloudFormation's do."""
    from moto.cloudformation import parsing as P
    require(P, "generate_resource_name", "random_suffix")
    orig = P.generate_resource_name

    def generate_resource_name(resource_type, stack_name, logical_id):
        if resource_type == "AWS::S3::Bucket":
            suffix = P.random_suffix().lower()
            return f"{stack_name}-{logical_id}".lower()[: 63 - len(suffix) - 1].rstrip("-.") + "-" + suffix
        return orig(resource_type, stack_name, logical_id)
    P.generate_resource_name = generate_resource_name


def _patch_rds():
    from moto.rds import models as rds
    require(rds, "DBInstance")
    orig = rds.DBInstance.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        from types import SimpleNamespace
        p = dict(p)
        if "VPCSecurityGroups" in p and "VpcSecurityGroupIds" not in p:
            p["VpcSecurityGroupIds"] = p["VPCSecurityGroups"]
        # moto expects objects here (Ref used to give the object itself); a Ref now gives the name
        if isinstance(p.get("DBSubnetGroupName"), str):
            p["DBSubnetGroupName"] = SimpleNamespace(name=p["DBSubnetGroupName"])
        if p.get("DBSecurityGroups"):
            p["DBSecurityGroups"] = [SimpleNamespace(name=g) if isinstance(g, str) else g
                                     for g in p["DBSecurityGroups"]]
        cloudformation_json = dict(cloudformation_json, Properties=p)
        return orig(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
    rds.DBInstance.create_from_cloudformation_json = classmethod(create)


# ---------------------------------------------------------------- intrinsics

_DYNREF = re.compile(r"\{\{resolve:(secretsmanager|ssm|ssm-secure):([^}]*)\}\}")


class DynamicReferenceError(Exception):
    pass


def resolve_dynamic_references(value, account_id, region_name):
    def one(m):
        kind, ref = m.group(1), m.group(2)
        if kind == "secretsmanager":
            parts = ref.split(":")
            if parts[0] == "arn":
                secret_id, rest = ":".join(parts[:7]), parts[7:]
            else:
                secret_id, rest = parts[0], parts[1:]
            rest += [""] * (4 - len(rest))
            _, json_key, stage, version = rest[:4]
            from moto.secretsmanager.models import secretsmanager_backends
            sm = secretsmanager_backends[account_id][region_name]
            try:
                got = sm.get_secret_value(secret_id, version or None, stage or None)
            except Exception as e:  # noqa: BLE001
                raise DynamicReferenceError(f"dynamic reference {m.group(0)!r}: secret {secret_id} not found: {e}")
            text = got.get("SecretString") if isinstance(got, dict) else getattr(got, "secret_string", None)
            if not json_key:
                return text
            try:
                return str(json.loads(text)[json_key])
            except (ValueError, KeyError, TypeError):
                raise DynamicReferenceError(f"dynamic reference {m.group(0)!r}: key {json_key!r} not in the secret")
        from moto.ssm.models import ssm_backends
        name, _, version = ref.partition(":")
        param = ssm_backends[account_id][region_name].get_parameter(name)
        if param is None:
            raise DynamicReferenceError(f"dynamic reference {m.group(0)!r}: parameter {name} not found")
        return param.value
    return _DYNREF.sub(one, value)


def _patch_intrinsics():
    from moto.cloudformation import parsing as P
    from moto.cloudformation import models as M
    from moto.cloudformation import utils as U
    require(P, "clean_json")
    require(U, "yaml_tag_constructor")
    orig_clean = P.clean_json

    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, dict) and isinstance(resource_json.get("Fn::GetAtt"), list) \
                and len(resource_json["Fn::GetAtt"]) > 2:
            ga = resource_json["Fn::GetAtt"]
            resource_json = dict(resource_json, **{"Fn::GetAtt": [ga[0], ".".join(str(x) for x in ga[1:])]})
        out = orig_clean(resource_json, resources_map)
        if isinstance(out, str) and "{{resolve:" in out:
            out = resolve_dynamic_references(out, resources_map._account_id, resources_map._region_name)
        return out
    P.clean_json = clean_json

    orig_yaml = U.yaml_tag_constructor

    def yaml_tag_constructor(loader, tag, node):
        if tag == "!GetAtt" and not isinstance(node.value, list):
            return {"Fn::GetAtt": node.value.split(".", 1)}
        return orig_yaml(loader, tag, node)
    U.yaml_tag_constructor = yaml_tag_constructor
    for mod in (M, P):
        if hasattr(mod, "yaml_tag_constructor"):
            mod.yaml_tag_constructor = yaml_tag_constructor


def apply():
    _patch_efs()
    _patch_ecs()
    _patch_vpc()
    _patch_rds()
    _patch_subnet_association()
    _patch_resource_names()
    _patch_physical_ids()
    _patch_intrinsics()
