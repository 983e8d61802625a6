"""The stack life cycle, done as CloudFormation does it.

- Create (CreateStack and CREATE change sets alike): resources in dependency order (DependsOn, Ref,
  GetAtt, Sub), each with CREATE_IN_PROGRESS then CREATE_COMPLETE events. An unsupported type or a
  failing resource gives CREATE_FAILED with the reason, then a rollback (ROLLBACK_IN_PROGRESS,
  deletes in reverse order, ROLLBACK_COMPLETE), or CREATE_FAILED with DisableRollback.
- Stack tags plus aws:cloudformation:{stack-name,stack-id,logical-id} on every taggable resource.
- Outputs on the change-set path; one failing output no longer hides the others.
- Delete: every created resource, in reverse dependency order, with events; a type without a delete
  implementation fails loudly (DELETE_FAILED) instead of leaking; a failed delete keeps the stack as
  DELETE_FAILED (moto drops the record) so DeleteStack can be retried.
- A deleted or rolled-back stack's resources are never re-created by a later describe call.
"""
import json
import re
import sys

from .check import require
from .util import tags_list

_SUB_REF = re.compile(r"\$\{([^!}][^}]*)\}")


# Set by runtime/cfn_wait.py under --run (None without it: nothing waits, all is synchronous).
# waiter.created(lid, rtype, res, rmap) / waiter.deleted(...) return None (done) or poll(): None while the
# resource is still in progress, "" once it is done, else the reason it failed. Other resources go on
# meanwhile (as CloudFormation works in parallel); one that depends on a pending resource waits for it.
# waiter.pause() sleeps a moment with moto's lock released.
waiter = None


class StackOperationFailed(Exception):
    def __init__(self, logical_ids, reason):
        super().__init__(reason)
        self.logical_ids = logical_ids
        self.reason = reason


def log(msg):
    print(f"local-aws: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- dependency order

def _refs(obj, names, out):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "Ref" and isinstance(v, str) and v in names:
                out.add(v)
            elif k == "Fn::GetAtt":
                target = v[0] if isinstance(v, list) else str(v).split(".", 1)[0]
                if target in names:
                    out.add(target)
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) else v
                if isinstance(text, str):
                    for m in _SUB_REF.findall(text):
                        target = m.split(".", 1)[0]
                        if target in names:
                            out.add(target)
                if isinstance(v, list) and len(v) > 1:
                    _refs(v[1], names, out)
                continue
            _refs(v, names, out)
    elif isinstance(obj, list):
        for v in obj:
            _refs(v, names, out)


def dependencies(resources):
    names = set(resources)
    deps = {}
    for lid, rj in resources.items():
        d = set()
        dep = rj.get("DependsOn")
        for x in ([dep] if isinstance(dep, str) else (dep or [])):
            if x in names:
                d.add(x)
        _refs(rj.get("Properties", {}), names, d)
        d.discard(lid)
        deps[lid] = d
    return deps


def creation_order(resources):
    """Topological order; template order breaks ties. A cycle is a template error."""
    deps = dependencies(resources)
    order, state = [], {}

    def visit(lid, path):
        if state.get(lid) == 2:
            return
        if state.get(lid) == 1:
            raise StackOperationFailed([lid], f"Circular dependency between resources: {sorted(path)}")
        state[lid] = 1
        for d in sorted(deps[lid], key=list(resources).index):
            visit(d, path + [d])
        state[lid] = 2
        order.append(lid)
    for lid in resources:
        visit(lid, [lid])
    return order


# ---------------------------------------------------------------- events

def event(stack, lid, pid, rtype, status, reason=None, props=None):
    from moto.cloudformation.models import Event
    if stack is None:
        return
    e = Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=lid,
              physical_resource_id=pid or "", resource_type=rtype, resource_status=status,
              resource_status_reason=reason, resource_properties=json.dumps(props) if props is not None else None)
    stack.events.append(e)


def physical_id(res):
    if res is None or isinstance(res, str):
        return res or ""
    try:
        pid = res.physical_resource_id
    except Exception:  # noqa: BLE001
        return ""
    return pid if isinstance(pid, str) else ""


# ---------------------------------------------------------------- tags

def _arn(res):
    for attr in ("arn", "Arn", "file_system_arn", "access_point_arn", "function_arn"):
        v = getattr(res, attr, None)
        if isinstance(v, str) and v.startswith("arn:"):
            return v
    return None


def tag_resource(rtype, res, tags, account_id, region_name):
    """Put tags ([{Key, Value}]) on a resource through its service's own tagging call."""
    from moto.utilities.utils import get_partition
    if not tags or res is None or isinstance(res, str):
        return
    kv = {t["Key"]: t["Value"] for t in tags}
    svc = rtype.split("::")[1] if rtype.count("::") == 2 else ""
    if svc == "EC2":
        from moto.ec2.models import ec2_backends
        from moto.ec2.models.core import TaggedEC2Resource
        if isinstance(res, TaggedEC2Resource) and physical_id(res):
            ec2_backends[account_id][region_name].create_tags([physical_id(res)], kv)
    elif svc == "ECS":
        from moto.ecs.models import ecs_backends
        ecs_backends[account_id][region_name].tag_resource(res.arn, [{"key": k, "value": v} for k, v in kv.items()])
    elif svc == "EFS" and rtype != "AWS::EFS::MountTarget":
        from moto.efs.models import efs_backends
        rid = getattr(res, "file_system_id", None) if rtype.endswith("FileSystem") else res.access_point_id
        efs_backends[account_id][region_name].tag_resource(rid, tags)
    elif svc == "ElasticLoadBalancingV2" and rtype.split("::")[2] in ("LoadBalancer", "TargetGroup"):
        from moto.elbv2.models import elbv2_backends
        elbv2_backends[account_id][region_name].add_tags([res.arn], tags)
    elif rtype == "AWS::IAM::Role":
        from moto.iam.models import iam_backends
        iam_backends[account_id][get_partition(region_name)].tag_role(res.name, tags)
    elif rtype == "AWS::Logs::LogGroup":
        from moto.logs.models import logs_backends
        logs_backends[account_id][region_name].tag_resource(res.arn, kv)
    elif rtype in ("AWS::RDS::DBInstance", "AWS::RDS::DBSubnetGroup"):
        from moto.rds.models import rds_backends
        arn = res.db_instance_arn if hasattr(res, "db_instance_arn") else getattr(res, "arn", None)
        if arn:
            rds_backends[account_id][region_name].add_tags_to_resource(arn, tags)
    elif rtype == "AWS::S3::Bucket":
        from moto.s3.models import s3_backends
        s3 = s3_backends[account_id][get_partition(region_name)]
        current = s3.get_bucket_tagging(res.name).get("Tags", []) if hasattr(s3, "get_bucket_tagging") else []
        merged = {t["Key"]: t["Value"] for t in current}
        merged.update(kv)
        s3.put_bucket_tagging(res.name, merged)
    elif rtype == "AWS::SecretsManager::Secret":
        from moto.secretsmanager.models import secretsmanager_backends
        secretsmanager_backends[account_id][region_name].tag_resource(res.arn, tags)
    elif rtype in ("AWS::ElastiCache::ReplicationGroup", "AWS::ElastiCache::CacheCluster",
                   "AWS::ElastiCache::SubnetGroup"):
        from moto.elasticache.models import elasticache_backends
        ec = elasticache_backends[account_id][region_name]
        kind = {"ReplicationGroup": "replicationgroup", "CacheCluster": "cluster", "SubnetGroup": "subnetgroup"}
        arn = f"arn:aws:elasticache:{region_name}:{account_id}:{kind[rtype.split('::')[2]]}:{res.pid}"
        if rtype.endswith("SubnetGroup"):
            group = ec.cache_subnet_groups.get(res.pid)
            if group is not None:
                arn = getattr(group, "arn", arn)
        ec.add_tags_to_resource(arn, tags)
    elif rtype.startswith("AWS::ServiceDiscovery::"):
        from moto.servicediscovery.models import servicediscovery_backends
        servicediscovery_backends[account_id][region_name].tag_resource(res.arn, tags)
    elif rtype == "AWS::KMS::Key":
        from moto.kms.models import kms_backends
        kms_backends[account_id][region_name].tag_resource(
            res.id, [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in tags])
    elif rtype == "AWS::Lambda::Function":
        from moto.awslambda.models import lambda_backends
        lambda_backends[account_id][region_name].tag_resource(res.function_arn, kv)


# ---------------------------------------------------------------- create

def _unsupported(rtype):
    from moto.cloudformation import parsing as P
    if rtype in P.NULL_MODELS:
        return False
    return P.resource_class_from_type(rtype) is None


def create_resources(rmap, template, stack):
    """Replaces ResourceMap.create: ordered, evented, failing loudly."""
    from moto.cloudformation import parsing as P
    rmap._template = template
    rmap._resource_json_map = template["Resources"]
    rmap.tags.update({"aws:cloudformation:stack-name": rmap["AWS::StackName"],
                      "aws:cloudformation:stack-id": rmap["AWS::StackId"]})
    rmap._ext_frozen = False
    rmap._ext_created = []
    pending = {}   # lid -> (poll, resource, type): created, still in progress (waiter)
    deps = dependencies(rmap._resource_json_map) if waiter is not None else {}
    for lid in creation_order(rmap._resource_json_map):
        rj = rmap._resource_json_map[lid]
        cond = rj.get("Condition")
        if cond and not rmap.lazy_condition_map[cond]:
            continue
        rtype = rj["Type"]
        if lid in rmap._parsed_resources:
            continue
        if pending:
            _settle(stack, pending, deps.get(lid, set()), "CREATE")
        event(stack, lid, "", rtype, "CREATE_IN_PROGRESS")
        try:
            if _unsupported(rtype):
                raise StackOperationFailed([lid], f"Unrecognized resource types: [{rtype}] "
                                                  "(not emulated by local-aws)")
            res = rmap[lid]
            if res is None and rtype not in P.NULL_MODELS:
                raise StackOperationFailed([lid], "resource was not created")
        except StackOperationFailed as e:
            event(stack, lid, "", rtype, "CREATE_FAILED", e.reason)
            raise
        except Exception as e:  # noqa: BLE001 - any error creating a resource fails the stack
            reason = _reason(e)
            event(stack, lid, "", rtype, "CREATE_FAILED", reason)
            raise StackOperationFailed([lid], reason) from e
        rmap._ext_created.append(lid)
        tags = tags_list(rmap.tags) + [{"Key": "aws:cloudformation:logical-id", "Value": lid}]
        try:
            tag_resource(rtype, res, tags, rmap._account_id, rmap._region_name)
        except Exception as e:  # noqa: BLE001 - tagging is best effort, but visible
            log(f"tagging {lid} ({rtype}) failed: {_reason(e)}")
        poll = waiter.created(lid, rtype, res, rmap) if waiter is not None else None
        if poll is not None:
            pending[lid] = (poll, res, rtype)
            continue
        event(stack, lid, physical_id(res), rtype, "CREATE_COMPLETE")
    if pending:
        _settle(stack, pending, set(pending), "CREATE")
    rmap._ext_frozen = True
    return True


def _settle(stack, pending, wanted, action):
    """Polls every pending resource (events as they finish); returns once none of `wanted` is pending.
    A failure cancels the other pending ones and raises StackOperationFailed."""
    while True:
        for lid in list(pending):
            poll, res, rtype = pending[lid]
            r = poll()
            if r is None:
                continue
            del pending[lid]
            if r:
                event(stack, lid, physical_id(res), rtype, f"{action}_FAILED", r)
                cancelled = list(pending)
                for other in cancelled:
                    _, ores, otype = pending.pop(other)
                    event(stack, other, physical_id(ores), otype, f"{action}_FAILED",
                          "Resource creation cancelled" if action == "CREATE" else "Resource deletion cancelled")
                raise StackOperationFailed([lid] + cancelled, r)
            event(stack, lid, physical_id(res), rtype, f"{action}_COMPLETE")
        if not (set(wanted) & set(pending)):
            return
        waiter.pause()


def _reason(e):
    msg = getattr(e, "message", None) or getattr(e, "description", None) or str(e) or type(e).__name__
    return f"{type(e).__name__}: {msg}"[:1000] if type(e).__name__ not in msg else msg[:1000]


# ---------------------------------------------------------------- delete

def _ec2(account_id, region_name):
    from moto.ec2.models import ec2_backends
    return ec2_backends[account_id][region_name]


def _del_nat(res, a, r):
    ec2 = _ec2(a, r)
    ec2.delete_nat_gateway(res.id)
    eni = getattr(res, "_eni", None)  # moto leaves the gateway's network interface behind
    if eni is not None:
        for addr in ec2.addresses:
            if addr.eni is eni:
                addr.eni, addr.association_id = None, None
        ec2.enis.pop(eni.id, None)


def _del_instance(res, a, r):
    ec2 = _ec2(a, r)
    ec2.terminate_instances([res.id])
    for nic in list(getattr(res, "nics", {}).values()):  # DeleteOnTermination, as AWS does by default
        for addr in ec2.addresses:
            if addr.eni is nic:
                addr.eni, addr.instance, addr.association_id = None, None, None
        ec2.enis.pop(nic.id, None)


def _del_eip(res, a, r):
    ec2 = _ec2(a, r)
    if getattr(res, "association_id", None) or getattr(res, "instance", None) or getattr(res, "eni", None):
        try:
            ec2.disassociate_address(address=res.public_ip)
        except Exception:  # noqa: BLE001
            pass
    ec2.release_address(allocation_id=res.allocation_id)


def _del_route(res, a, r):
    ec2 = _ec2(a, r)
    dest = res.destination_cidr_block or getattr(res, "destination_ipv6_cidr_block", None)
    ec2.delete_route(res.route_table.id, dest)


def _del_route_table(res, a, r):
    ec2 = _ec2(a, r)
    for assoc_id in list(res._associations):
        ec2.disassociate_route_table(assoc_id)
    ec2.delete_route_table(res.id)


def _del_subnet_assoc(res, a, r):
    ec2 = _ec2(a, r)
    ec2.subnet_associations.pop(f"{res.route_table_id}:{res.subnet_id}", None)
    if getattr(res, "association_id", None):
        ec2.disassociate_route_table(res.association_id)


def _del_gw_attach(res, a, r):
    ec2 = _ec2(a, r)
    gw = getattr(res, "gateway_id", None)
    vpc = getattr(res, "vpc_id", None)
    if gw and gw.startswith("igw-"):
        ec2.detach_internet_gateway(gw, vpc)
    elif gw:
        ec2.detach_vpn_gateway(gw, vpc)


def _del_igw(res, a, r):
    ec2 = _ec2(a, r)
    if getattr(res, "vpc", None) is not None:
        ec2.detach_internet_gateway(res.id, res.vpc.id)
    ec2.delete_internet_gateway(res.id)


def _del_ecs_cluster(res, a, r):
    from moto.ecs.models import ecs_backends
    ecs_backends[a][r].delete_cluster(res.arn)


def _del_ecs_service(res, a, r):
    from moto.ecs.models import ecs_backends
    ecs = ecs_backends[a][r]
    ecs.delete_service(res.cluster_name, res.name, True)
    # AWS stops listing a deleted service soon after; moto lists INACTIVE ones forever
    ecs.services.pop(f"{res.cluster_name}:{res.name}", None)


def _del_task_def(res, a, r):
    from moto.ecs.models import ecs_backends
    ecs_backends[a][r].deregister_task_definition(res.arn)


def _del_target_group(res, a, r):
    from moto.elbv2.models import elbv2_backends
    elbv2_backends[a][r].delete_target_group(res.arn)


def _del_listener(res, a, r):
    from moto.elbv2.models import elbv2_backends
    elbv2_backends[a][r].delete_listener(res.arn)


def _del_lambda(res, a, r):
    from moto.awslambda.models import lambda_backends
    lambda_backends[a][r].delete_function(res.function_name, None)


def _del_log_group(res, a, r):
    from moto.logs.models import logs_backends
    logs_backends[a][r].delete_log_group(res.name)


def _del_sg_ingress(res, a, r):
    group, rule_id = getattr(res, "security_group", None), getattr(res, "rule_id", None)
    if group is not None and rule_id:
        group.ingress_rules = [x for x in group.ingress_rules if x.id != rule_id]


def _del_bucket(res, a, r):
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition
    s3 = s3_backends[a][get_partition(r)]
    bucket = s3.buckets.get(res.name)
    if bucket is None:
        return
    if len(bucket.keys):  # moto silently keeps a non-empty bucket; AWS fails the delete
        raise RuntimeError("BucketNotEmpty: The bucket you tried to delete is not empty")
    s3.delete_bucket(res.name)


DELETE_HANDLERS = {
    "AWS::S3::Bucket": _del_bucket,
    "AWS::EC2::NatGateway": _del_nat,
    "AWS::EC2::EIP": _del_eip,
    "AWS::EC2::Instance": _del_instance,
    "AWS::EC2::Route": _del_route,
    "AWS::EC2::RouteTable": _del_route_table,
    "AWS::EC2::SubnetRouteTableAssociation": _del_subnet_assoc,
    "AWS::EC2::VPCGatewayAttachment": _del_gw_attach,
    "AWS::EC2::InternetGateway": _del_igw,
    "AWS::EC2::SecurityGroupIngress": _del_sg_ingress,
    "AWS::ECS::Cluster": _del_ecs_cluster,
    "AWS::ECS::Service": _del_ecs_service,
    "AWS::ECS::TaskDefinition": _del_task_def,
    "AWS::ElasticLoadBalancingV2::TargetGroup": _del_target_group,
    "AWS::ElasticLoadBalancingV2::Listener": _del_listener,
    "AWS::Lambda::Function": _del_lambda,
    "AWS::Logs::LogGroup": _del_log_group,
}


def _has_own_delete(res):
    if callable(getattr(res, "delete", None)):
        return True
    dfc = getattr(type(res), "delete_from_cloudformation_json", None)
    return dfc is not None and not getattr(dfc, "__isabstractmethod__", False)


def delete_one(rmap, lid, res, rj, orig_delete_resource):
    rtype = rj["Type"]
    if hasattr(res, "ext_delete"):
        res.ext_delete(rmap._account_id, rmap._region_name)
    elif rtype in DELETE_HANDLERS:
        DELETE_HANDLERS[rtype](res, rmap._account_id, rmap._region_name)
    elif _has_own_delete(res):
        orig_delete_resource(rmap, res, rj)
    else:
        raise RuntimeError(f"local-aws cannot delete {rtype} (no delete implementation in moto or local-aws)")


def _gone(e):
    text = type(e).__name__ + " " + str(e)
    return any(s in text for s in ("NotFound", "NoSuch", "does not exist", "not found"))


def delete_resources(rmap, stack, orig_delete_resource, event_prefix="DELETE"):
    """Delete what this stack created, in reverse dependency order. Raises StackOperationFailed."""
    order = creation_order(rmap._resource_json_map)
    failed = []
    pending = {}   # lid -> (poll, resource, type): deleted, still going (waiter)
    dependents = {}
    if waiter is not None:
        for x, ds in dependencies(rmap._resource_json_map).items():
            for d in ds:
                dependents.setdefault(d, set()).add(x)
    for lid in reversed(order):
        if pending:
            _settle(stack, pending, dependents.get(lid, set()), "DELETE")
        rj = rmap._resource_json_map[lid]
        res = rmap._parsed_resources.get(lid)
        if res is None or isinstance(res, (str, int, float, list, dict)):
            continue
        rtype = rj["Type"]
        pid = physical_id(res)
        if rj.get("DeletionPolicy") == "Retain":
            event(stack, lid, pid, rtype, "DELETE_SKIPPED")
            rmap._parsed_resources.pop(lid, None)
            continue
        event(stack, lid, pid, rtype, "DELETE_IN_PROGRESS")
        try:
            delete_one(rmap, lid, res, rj, orig_delete_resource)
        except Exception as e:  # noqa: BLE001
            if not _gone(e):
                reason = _reason(e)
                event(stack, lid, pid, rtype, "DELETE_FAILED", reason)
                log(f"deleting {lid} ({rtype}) failed: {reason}")
                failed.append(lid)
                continue
        rmap._parsed_resources.pop(lid, None)
        poll = waiter.deleted(lid, rtype, res, rmap) if waiter is not None else None
        if poll is not None:
            pending[lid] = (poll, res, rtype)
            continue
        event(stack, lid, pid, rtype, "DELETE_COMPLETE")
    if pending:
        _settle(stack, pending, set(pending), "DELETE")
    if failed:
        raise StackOperationFailed(failed, f"The following resource(s) failed to delete: [{', '.join(failed)}]. ")


# ---------------------------------------------------------------- wiring

def apply():
    from moto.cloudformation import models as M
    from moto.cloudformation import parsing as P
    require(P, "ResourceMap", "OutputMap", "parse_output")
    require(P.ResourceMap, "create", "delete", "update", "_delete_resource", "__getitem__")
    require(M, "Stack", "CloudFormationBackend", "Event")
    require(M.Stack, "create_resources", "delete", "update", "_add_stack_event", "_parse_template",
            "_create_output_map", "outputs")
    require(M.CloudFormationBackend, "delete_stack", "execute_change_set", "create_stack")

    orig_delete_resource = P.ResourceMap._delete_resource
    orig_getitem = P.ResourceMap.__getitem__

    def getitem(self, key):
        # After create/rollback/delete, a lookup must not lazily (re-)create a resource.
        if getattr(self, "_ext_frozen", False) and key not in self._parsed_resources \
                and key in self._resource_json_map:
            return None
        return orig_getitem(self, key)
    P.ResourceMap.__getitem__ = getitem

    def rmap_create(self, template):
        return create_resources(self, template, getattr(self, "_ext_stack", None))
    P.ResourceMap.create = rmap_create

    def rmap_delete(self):
        delete_resources(self, getattr(self, "_ext_stack", None), orig_delete_resource)
    P.ResourceMap.delete = rmap_delete

    orig_update = P.ResourceMap.update

    def rmap_update(self, template, parameters=None):
        self._ext_frozen = False
        try:
            # moto adds "Properties": {} to stored resources; without it on the new template too,
            # every property-less resource would count as Modified (and be dropped).
            for rj in template.get("Resources", {}).values():
                rj.setdefault("Properties", {})
            return orig_update(self, template, parameters)
        finally:
            self._ext_frozen = True
    P.ResourceMap.update = rmap_update

    orig_parse_update = P.parse_and_update_resource

    def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        """moto stores None for a modified resource whose type has no update (and then leaks it on
        delete): keep the existing resource instead, with its new tags if it is an EC2 resource."""
        original = resources_map._parsed_resources.get(logical_id)
        new = orig_parse_update(logical_id, resource_json, resources_map, account_id, region_name)
        if new is not None or original is None:
            return new
        tags = (P.clean_json(resource_json.get("Properties", {}), resources_map) or {}).get("Tags")
        if tags:
            try:
                tag_resource(resource_json["Type"], original, tags_list(tags), account_id, region_name)
            except Exception as e:  # noqa: BLE001
                log(f"re-tagging {logical_id} failed: {_reason(e)}")
        log(f"update of {logical_id} ({resource_json['Type']}): no update in moto; kept the resource as it was")
        return original
    P.parse_and_update_resource = parse_and_update_resource

    def rollback(stack, failure):
        stack.status = "CREATE_FAILED" if stack.disable_rollback else "ROLLBACK_IN_PROGRESS"
        reason = f"The following resource(s) failed to create: [{', '.join(failure.logical_ids)}]. "
        if stack.disable_rollback:
            stack._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
            return
        stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason + "Rollback requested by user.")
        try:
            delete_resources(stack.resource_map, stack, orig_delete_resource)
        except StackOperationFailed as e:
            stack.status = "ROLLBACK_FAILED"
            stack._add_stack_event("ROLLBACK_FAILED", resource_status_reason=e.reason)
            return
        stack.status = "ROLLBACK_COMPLETE"
        stack._add_stack_event("ROLLBACK_COMPLETE")

    def create_resources_(self):
        self.status = "CREATE_IN_PROGRESS"
        self.resource_map._ext_stack = self
        try:
            self.resource_map.create(self.template_dict)
        except StackOperationFailed as e:
            self.resource_map._ext_frozen = True
            rollback(self, e)
            return
        self.description = self.template_dict.get("Description")
        self.output_map = self._create_output_map()
        self.mark_creation_complete()
    M.Stack.create_resources = create_resources_

    def stack_delete(self):
        self._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
        self.status = "DELETE_IN_PROGRESS"
        self.resource_map._ext_stack = self
        try:
            self.resource_map.delete()
        except StackOperationFailed as e:
            self.status = "DELETE_FAILED"
            self._add_stack_event("DELETE_FAILED", resource_status_reason=e.reason)
            raise
        self._add_stack_event("DELETE_COMPLETE")
        self.status = "DELETE_COMPLETE"
    M.Stack.delete = stack_delete

    orig_outputs = M.Stack.outputs

    def outputs(self):
        if self.status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "ROLLBACK_IN_PROGRESS", "CREATE_FAILED",
                           "DELETE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_FAILED", "REVIEW_IN_PROGRESS",
                           "CREATE_IN_PROGRESS"):
            return None
        return orig_outputs.fget(self)
    M.Stack.outputs = property(outputs)

    def output_getitem(self, key):
        if key in self._parsed_outputs:
            return self._parsed_outputs[key]
        try:
            out = P.parse_output(key, self._output_json_map.get(key), self._resource_map)
        except Exception as e:  # noqa: BLE001 - one bad output must not hide the others
            log(f"output {key} could not be evaluated: {_reason(e)}")
            return None
        if out:
            self._parsed_outputs[key] = out
        return out
    P.OutputMap.__getitem__ = output_getitem

    def delete_stack(self, name_or_stack_id):
        stack = self.stacks.get(name_or_stack_id)
        if stack is None:
            stack = next((s for s in self.stacks.values() if s.name == name_or_stack_id), None)
        if stack is None:
            return
        export_names = [export.name for export in (stack.exports or [])] if stack.status != "DELETE_FAILED" \
            else [n for n, e in self.exports.items() if getattr(e, "exporting_stack_id", None) == stack.stack_id]
        try:
            stack.delete()
        except StackOperationFailed:
            return  # the stack stays, DELETE_FAILED, as on AWS; DeleteStack can be retried
        self.stacks.pop(stack.stack_id, None)
        self.deleted_stacks[stack.stack_id] = stack
        for name in export_names:
            self.exports.pop(name, None)
    M.CloudFormationBackend.delete_stack = delete_stack

    orig_execute = M.CloudFormationBackend.execute_change_set

    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = self.change_sets.get(change_set_name) or next(
            (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name
             and (stack_name is None or cs.stack_name == stack_name or cs.stack_id == stack_name)), None)
        if change_set is None or change_set.change_set_type != "CREATE":
            result = orig_execute(self, change_set_name, stack_name)
            if change_set is not None:
                stack = self.stacks[change_set.stack_id]
                stack.output_map = stack._create_output_map()
            return result
        # CREATE: the same path as CreateStack, on the change set's template and parameters
        stack = self.stacks[change_set.stack_id]
        stack.template = change_set.template
        stack._parse_template()
        stack.parameters = change_set.parameters
        stack.description = stack.template_dict.get("Description")
        stack.resource_map = stack._create_resource_map()
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.create_resources()
        change_set.execution_status = "EXECUTE_COMPLETE"
        if stack.status == "CREATE_COMPLETE":
            for export in stack.exports:
                self.exports[export.name] = export
    M.CloudFormationBackend.execute_change_set = execute_change_set

    # DisableRollback / OnFailure on CreateStack (moto ignores both)
    from moto.cloudformation import responses as R
    require(R, "CloudFormationResponse")
    orig_create_stack = M.CloudFormationBackend.create_stack
    state = {}

    def create_stack_response(self_resp, _orig=R.CloudFormationResponse.create_stack):
        on_failure = self_resp._get_param("OnFailure")
        disable = str(self_resp._get_param("DisableRollback") or "").lower() == "true" or on_failure == "DO_NOTHING"
        state["disable_rollback"] = disable
        try:
            return _orig(self_resp)
        finally:
            state.pop("disable_rollback", None)
    R.CloudFormationResponse.create_stack = create_stack_response

    orig_stack_init = M.Stack.__init__

    def stack_init(self, *a, **kw):
        orig_stack_init(self, *a, **kw)
        self.disable_rollback = state.get("disable_rollback", False)
    M.Stack.__init__ = stack_init
    del orig_create_stack
