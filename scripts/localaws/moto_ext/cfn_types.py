"""CloudFormation resource types moto 5.2.1 lacks, each backed by moto's own service back end.

Each class is a *direct* subclass of CloudFormationModel (moto's registry only sees direct
subclasses) with a dotted __module__ (moto's model metaclass needs one). The ExtBase mixin gives
GetAtt through ATTRS, Ref through physical_resource_id, an update that keeps an unchanged resource
(and replaces a changed one), and delete through ext_delete.
"""
import json
import uuid

from moto.core.common_models import CloudFormationModel

from .util import bool_of, call, int_of, merge_tags, tags_list

MOD = "moto_ext.cfn"  # moto's InstanceTrackerMeta reads cls.__module__.split(".")[1]


class GetAttError(Exception):
    pass


class ExtBase:
    ATTRS = {}
    props = None
    pid = None

    @staticmethod
    def cloudformation_name_type():
        return ""

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in cls.ATTRS

    def get_cfn_attribute(self, attr):
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
        if attr not in self.ATTRS:
            raise UnformattedGetAttTemplateException()
        v = self.ATTRS[attr]
        return v(self) if callable(v) else getattr(self, v)

    @property
    def physical_resource_id(self):
        return self.pid

    def is_created(self):
        return True

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        if original_resource is not None and original_resource.props == cloudformation_json.get("Properties", {}):
            return original_resource
        if original_resource is not None:
            original_resource.ext_delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass  # deletion goes through the object's delete()

    def delete(self, account_id, region_name):
        self.ext_delete(account_id, region_name)

    def ext_delete(self, account_id, region_name):
        raise NotImplementedError


def _backend(name, account_id, region_name):
    import importlib
    mod = importlib.import_module(f"moto.{name}.models")
    backends = getattr(mod, f"{name}_backends")
    return backends[account_id][region_name]


def _global_backend(name, account_id):
    import importlib
    mod = importlib.import_module(f"moto.{name}.models")
    return getattr(mod, f"{name}_backends")[account_id]["aws"]


# ---------------------------------------------------------------- Secrets Manager

class ExtSecret(ExtBase, CloudFormationModel):
    __module__ = MOD
    ATTRS = {"Id": "arn", "Arn": "arn", "Name": "name"}

    @staticmethod
    def cloudformation_type():
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def cloudformation_name_type():
        return "Name"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        sm = _backend("secretsmanager", account_id, region_name)
        value = p.get("SecretString")
        gen = p.get("GenerateSecretString")
        if value is None and gen is not None:
            password = call(sm.get_random_password,
                            password_length=int_of(gen.get("PasswordLength"), 32),
                            exclude_characters=gen.get("ExcludeCharacters", ""),
                            exclude_numbers=bool_of(gen.get("ExcludeNumbers")),
                            exclude_punctuation=bool_of(gen.get("ExcludePunctuation")),
                            exclude_uppercase=bool_of(gen.get("ExcludeUppercase")),
                            exclude_lowercase=bool_of(gen.get("ExcludeLowercase")),
                            include_space=bool_of(gen.get("IncludeSpace")),
                            require_each_included_type=bool_of(gen.get("RequireEachIncludedType"), True))
            password = json.loads(password)["RandomPassword"] if password.startswith("{") else password
            if gen.get("SecretStringTemplate") and gen.get("GenerateStringKey"):
                doc = json.loads(gen["SecretStringTemplate"])
                doc[gen["GenerateStringKey"]] = password
                value = json.dumps(doc)
            else:
                value = password
        name = p.get("Name") or resource_name
        call(sm.create_secret, name=name, secret_string=value, secret_binary=None,
             description=p.get("Description"), tags=tags_list(p.get("Tags")), kms_key_id=p.get("KmsKeyId"),
             client_request_token=None, replica_regions=[], force_overwrite=False)
        secret = sm.describe_secret(name)
        obj = cls()
        obj.props, obj.name, obj.arn, obj.pid = p, name, secret.arn, secret.arn
        return obj

    def ext_delete(self, account_id, region_name):
        call(_backend("secretsmanager", account_id, region_name).delete_secret, secret_id=self.arn,
             recovery_window_in_days=None, force_delete_without_recovery=True)


class ExtSecretTargetAttachment(ExtBase, CloudFormationModel):
    """Adds the target's connection fields to the secret's JSON, as AWS does for RDS targets."""
    __module__ = MOD
    ATTRS = {"Id": "pid"}

    @staticmethod
    def cloudformation_type():
        return "AWS::SecretsManager::SecretTargetAttachment"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        sm = _backend("secretsmanager", account_id, region_name)
        secret_id = p["SecretId"]
        if p.get("TargetType") == "AWS::RDS::DBInstance":
            rds = _backend("rds", account_id, region_name)
            target = p["TargetId"]
            db = rds.databases.get(target) if hasattr(rds, "databases") else None
            if db is not None:
                secret = sm.get_secret_value(secret_id, None, None)
                try:
                    doc = json.loads(secret.get("SecretString") or "{}") if isinstance(secret, dict) \
                        else json.loads(secret.secret_string or "{}")
                except ValueError:
                    doc = None
                if isinstance(doc, dict):
                    doc.update({"engine": db.engine, "host": db.address, "port": int(db.port),
                                "dbInstanceIdentifier": db.db_instance_identifier})
                    if getattr(db, "db_name", None):
                        doc["dbname"] = db.db_name
                    call(sm.put_secret_value, secret_id=secret_id, secret_string=json.dumps(doc), secret_binary=None,
                         client_request_token=str(uuid.uuid4()), version_stages=["AWSCURRENT"])
        obj = cls()
        obj.props, obj.pid = p, sm.describe_secret(secret_id).arn
        return obj

    def ext_delete(self, account_id, region_name):
        pass  # the attachment has no resource of its own


# ---------------------------------------------------------------- ElastiCache

class ExtCacheSubnetGroup(ExtBase, CloudFormationModel):
    __module__ = MOD
    ATTRS = {}

    @staticmethod
    def cloudformation_type():
        return "AWS::ElastiCache::SubnetGroup"

    @staticmethod
    def cloudformation_name_type():
        return "CacheSubnetGroupName"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        name = (p.get("CacheSubnetGroupName") or resource_name).lower()
        call(_backend("elasticache", account_id, region_name).create_cache_subnet_group,
             cache_subnet_group_name=name, cache_subnet_group_description=p.get("Description", ""),
             subnet_ids=p.get("SubnetIds", []), tags=tags_list(p.get("Tags")))
        obj = cls()
        obj.props, obj.pid = p, name
        return obj

    def ext_delete(self, account_id, region_name):
        # moto has no DeleteCacheSubnetGroup back end method
        _backend("elasticache", account_id, region_name).cache_subnet_groups.pop(self.pid, None)


def _rg_endpoint(key, field):
    def get(self):
        rg = self.group()
        ng = rg.node_groups[0] if rg.node_groups else {}
        if key == "configuration":
            ep = getattr(rg, "configuration_endpoint", None) or {}
            return ep.get("address") if field == "address" else str(ep.get("port", rg.port))
        if field == "port":
            return str(ng.get("port", rg.port))
        return ng.get(f"{key}_endpoint_address")
    return get


class ExtReplicationGroup(ExtBase, CloudFormationModel):
    __module__ = MOD
    ATTRS = {
        "PrimaryEndPoint.Address": _rg_endpoint("primary", "address"),
        "PrimaryEndPoint.Port": _rg_endpoint("primary", "port"),
        "ReaderEndPoint.Address": _rg_endpoint("reader", "address"),
        "ReaderEndPoint.Port": _rg_endpoint("reader", "port"),
        "ConfigurationEndPoint.Address": _rg_endpoint("configuration", "address"),
        "ConfigurationEndPoint.Port": _rg_endpoint("configuration", "port"),
    }

    @staticmethod
    def cloudformation_type():
        return "AWS::ElastiCache::ReplicationGroup"

    @staticmethod
    def cloudformation_name_type():
        return "ReplicationGroupId"

    def group(self):
        return _backend("elasticache", self.account_id, self.region_name).replication_groups[self.pid]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        rid = (p.get("ReplicationGroupId") or resource_name).lower()[:40]
        call(_backend("elasticache", account_id, region_name).create_replication_group,
             replication_group_id=rid, replication_group_description=p.get("ReplicationGroupDescription", ""),
             global_replication_group_id=p.get("GlobalReplicationGroupId"),
             primary_cluster_id=p.get("PrimaryClusterId"),
             automatic_failover_enabled=bool_of(p.get("AutomaticFailoverEnabled")),
             multi_az_enabled=bool_of(p.get("MultiAZEnabled")),
             num_cache_clusters=int_of(p.get("NumCacheClusters")),
             preferred_cache_cluster_azs=p.get("PreferredCacheClusterAZs"),
             num_node_groups=int_of(p.get("NumNodeGroups")),
             replicas_per_node_group=int_of(p.get("ReplicasPerNodeGroup")),
             node_group_configuration=p.get("NodeGroupConfiguration"),
             cache_node_type=p.get("CacheNodeType"), engine=p.get("Engine", "redis"),
             engine_version=p.get("EngineVersion"), cache_parameter_group_name=p.get("CacheParameterGroupName"),
             cache_subnet_group_name=(p.get("CacheSubnetGroupName") or "").lower() or None,
             cache_security_group_names=p.get("CacheSecurityGroupNames"),
             security_group_ids=p.get("SecurityGroupIds"), tags=tags_list(p.get("Tags")),
             snapshot_arns=p.get("SnapshotArns"), snapshot_name=p.get("SnapshotName"),
             preferred_maintenance_window=p.get("PreferredMaintenanceWindow"),
             port=int_of(p.get("Port"), 6379), notification_topic_arn=p.get("NotificationTopicArn"),
             auto_minor_version_upgrade=bool_of(p.get("AutoMinorVersionUpgrade"), True),
             snapshot_retention_limit=int_of(p.get("SnapshotRetentionLimit")),
             snapshot_window=p.get("SnapshotWindow"), auth_token=p.get("AuthToken"),
             transit_encryption_enabled=bool_of(p.get("TransitEncryptionEnabled")),
             at_rest_encryption_enabled=bool_of(p.get("AtRestEncryptionEnabled")),
             kms_key_id=p.get("KmsKeyId"), user_group_ids=p.get("UserGroupIds"),
             log_delivery_configurations=p.get("LogDeliveryConfigurations"),
             data_tiering_enabled=bool_of(p.get("DataTieringEnabled")), network_type=p.get("NetworkType"),
             ip_discovery=p.get("IpDiscovery"), transit_encryption_mode=p.get("TransitEncryptionMode"),
             cluster_mode=p.get("ClusterMode"), serverless_cache_snapshot_name=None)
        obj = cls()
        obj.props, obj.pid, obj.account_id, obj.region_name = p, rid, account_id, region_name
        return obj

    def ext_delete(self, account_id, region_name):
        ec = _backend("elasticache", account_id, region_name)
        rg = ec.replication_groups.pop(self.pid, None)  # moto's delete only marks it "deleting"
        for cid in (getattr(rg, "member_clusters", None) or []):
            ec.cache_clusters.pop(cid, None)


class ExtCacheCluster(ExtBase, CloudFormationModel):
    __module__ = MOD
    ATTRS = {
        "RedisEndpoint.Address": lambda s: s.endpoint()[0], "RedisEndpoint.Port": lambda s: s.endpoint()[1],
        "ConfigurationEndpoint.Address": lambda s: s.endpoint()[0],
        "ConfigurationEndpoint.Port": lambda s: s.endpoint()[1],
    }

    @staticmethod
    def cloudformation_type():
        return "AWS::ElastiCache::CacheCluster"

    @staticmethod
    def cloudformation_name_type():
        return "ClusterName"

    def endpoint(self):
        return f"{self.pid}.abc123.0001.use1.cache.amazonaws.com", str(self.port)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        cid = (p.get("ClusterName") or resource_name).lower()[:40]
        port = int_of(p.get("Port"), 6379 if p.get("Engine", "redis") == "redis" else 11211)
        call(_backend("elasticache", account_id, region_name).create_cache_cluster,
             cache_cluster_id=cid, replication_group_id=None, az_mode=p.get("AZMode"),
             preferred_availability_zone=p.get("PreferredAvailabilityZone"),
             num_cache_nodes=int_of(p.get("NumCacheNodes"), 1), cache_node_type=p.get("CacheNodeType"),
             engine=p.get("Engine", "redis"), engine_version=p.get("EngineVersion"),
             cache_parameter_group_name=p.get("CacheParameterGroupName"),
             cache_subnet_group_name=(p.get("CacheSubnetGroupName") or "").lower() or None,
             transit_encryption_enabled=bool_of(p.get("TransitEncryptionEnabled")),
             network_type=p.get("NetworkType"), ip_discovery=p.get("IpDiscovery"),
             snapshot_name=p.get("SnapshotName"), preferred_maintenance_window=p.get("PreferredMaintenanceWindow"),
             port=port, notification_topic_arn=p.get("NotificationTopicArn"),
             auto_minor_version_upgrade=bool_of(p.get("AutoMinorVersionUpgrade"), True),
             snapshot_retention_limit=int_of(p.get("SnapshotRetentionLimit")), snapshot_window=p.get("SnapshotWindow"),
             auth_token=None, outpost_mode=None, preferred_outpost_arn=None,
             preferred_availability_zones=p.get("PreferredAvailabilityZones"),
             cache_security_group_names=p.get("CacheSecurityGroupNames"),
             security_group_ids=p.get("VpcSecurityGroupIds"), tags=tags_list(p.get("Tags")),
             snapshot_arns=p.get("SnapshotArns"), preferred_outpost_arns=None,
             log_delivery_configurations=p.get("LogDeliveryConfigurations"),
             cache_node_ids_to_remove=None, cache_node_ids_to_reboot=None)
        obj = cls()
        obj.props, obj.pid, obj.port = p, cid, port
        return obj

    def ext_delete(self, account_id, region_name):
        _backend("elasticache", account_id, region_name).cache_clusters.pop(self.pid, None)


# ---------------------------------------------------------------- Cloud Map

class ExtPrivateDnsNamespace(ExtBase, CloudFormationModel):
    __module__ = MOD
    ATTRS = {"Id": "pid", "Arn": "arn", "HostedZoneId": "hosted_zone_id"}

    @staticmethod
    def cloudformation_type():
        return "AWS::ServiceDiscovery::PrivateDnsNamespace"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        sd = _backend("servicediscovery", account_id, region_name)
        op = call(sd.create_private_dns_namespace, name=p["Name"], creator_request_id=str(uuid.uuid4()),
                  description=p.get("Description"), vpc=p["Vpc"], tags=tags_list(p.get("Tags")),
                  properties=p.get("Properties"))
        ns_id = sd.get_operation(op).targets["NAMESPACE"]
        ns = sd.namespaces[ns_id]
        obj = cls()
        obj.props, obj.pid, obj.arn = p, ns.id, ns.arn
        obj.hosted_zone_id = (ns.dns_properties or {}).get("HostedZoneId")
        return obj

    def ext_delete(self, account_id, region_name):
        from moto.utilities.utils import get_partition
        sd = _backend("servicediscovery", account_id, region_name)
        sd.delete_namespace(self.pid)
        if self.hosted_zone_id:  # moto leaks the namespace's private hosted zone otherwise
            from moto.route53.models import route53_backends
            try:
                route53_backends[account_id][get_partition(region_name)].delete_hosted_zone(self.hosted_zone_id)
            except Exception:  # noqa: BLE001 - already gone
                pass


class ExtDiscoveryService(ExtBase, CloudFormationModel):
    __module__ = MOD
    ATTRS = {"Id": "pid", "Arn": "arn", "Name": "name"}

    @staticmethod
    def cloudformation_type():
        return "AWS::ServiceDiscovery::Service"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        sd = _backend("servicediscovery", account_id, region_name)
        dns = p.get("DnsConfig")
        namespace_id = p.get("NamespaceId") or (dns or {}).get("NamespaceId")
        svc = call(sd.create_service, name=p.get("Name") or resource_name, namespace_id=namespace_id,
                   creator_request_id=str(uuid.uuid4()), description=p.get("Description"), dns_config=dns,
                   health_check_config=p.get("HealthCheckConfig"),
                   health_check_custom_config=p.get("HealthCheckCustomConfig"), tags=tags_list(p.get("Tags")),
                   service_type=p.get("Type"))
        obj = cls()
        obj.props, obj.pid, obj.arn, obj.name = p, svc.id, svc.arn, svc.name
        return obj

    def ext_delete(self, account_id, region_name):
        _backend("servicediscovery", account_id, region_name).delete_service(self.pid)


# ---------------------------------------------------------------- Application Auto Scaling

class ExtScalableTarget(ExtBase, CloudFormationModel):
    __module__ = MOD
    ATTRS = {"Id": "pid"}

    @staticmethod
    def cloudformation_type():
        return "AWS::ApplicationAutoScaling::ScalableTarget"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        call(_backend("applicationautoscaling", account_id, region_name).register_scalable_target,
             namespace=p["ServiceNamespace"], r_id=p["ResourceId"], dimension=p["ScalableDimension"],
             min_capacity=int_of(p.get("MinCapacity")), max_capacity=int_of(p.get("MaxCapacity")),
             role_arn=p.get("RoleARN"), suspended_state=p.get("SuspendedState"))
        obj = cls()
        obj.props = p
        obj.ns, obj.rid, obj.dim = p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]
        obj.pid = f"{obj.rid}|{obj.dim}|{obj.ns}"  # what AWS returns for Ref
        return obj

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        p = cloudformation_json.get("Properties", {})
        o = original_resource
        if o is not None and (o.ns, o.rid, o.dim) == (p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]):
            # same target: RegisterScalableTarget updates capacity in place, policies stay
            call(_backend("applicationautoscaling", account_id, region_name).register_scalable_target,
                 namespace=o.ns, r_id=o.rid, dimension=o.dim, min_capacity=int_of(p.get("MinCapacity")),
                 max_capacity=int_of(p.get("MaxCapacity")), role_arn=p.get("RoleARN"),
                 suspended_state=p.get("SuspendedState"))
            o.props = p
            return o
        return super().update_from_cloudformation_json(original_resource, new_resource_name, cloudformation_json,
                                                       account_id, region_name)

    def ext_delete(self, account_id, region_name):
        aas = _backend("applicationautoscaling", account_id, region_name)
        for key, pol in list(aas.policies.items()):  # AWS deletes a target's policies with it
            if (pol.service_namespace, pol.resource_id, pol.scalable_dimension) == (self.ns, self.rid, self.dim):
                aas.delete_scaling_policy(pol.policy_name, self.ns, self.rid, self.dim)
        aas.deregister_scalable_target(self.ns, self.rid, self.dim)


class ExtScalingPolicy(ExtBase, CloudFormationModel):
    __module__ = MOD
    ATTRS = {"Arn": "pid", "PolicyName": "name"}

    @staticmethod
    def cloudformation_type():
        return "AWS::ApplicationAutoScaling::ScalingPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        if p.get("ScalingTargetId"):
            rid, dim, ns = p["ScalingTargetId"].split("|")
        else:
            rid, dim, ns = p["ResourceId"], p["ScalableDimension"], p["ServiceNamespace"]
        ptype = p.get("PolicyType", "TargetTrackingScaling")
        body = p.get("TargetTrackingScalingPolicyConfiguration") if ptype == "TargetTrackingScaling" \
            else p.get("StepScalingPolicyConfiguration")
        name = p.get("PolicyName") or resource_name
        pol = call(_backend("applicationautoscaling", account_id, region_name).put_scaling_policy,
                   policy_name=name, service_namespace=ns, resource_id=rid, scalable_dimension=dim,
                   policy_body=body or {}, policy_type=ptype)
        obj = cls()
        obj.props, obj.pid, obj.name, obj.ns, obj.rid, obj.dim = p, pol.policy_arn, name, ns, rid, dim
        return obj

    def ext_delete(self, account_id, region_name):
        aas = _backend("applicationautoscaling", account_id, region_name)
        try:
            aas.delete_scaling_policy(self.name, self.ns, self.rid, self.dim)
        except Exception as e:  # noqa: BLE001
            if "No scaling policy found" not in str(e):
                raise


# ---------------------------------------------------------------- EC2 / S3 extras

class ExtSecurityGroupEgress(ExtBase, CloudFormationModel):
    __module__ = MOD
    ATTRS = {"Id": "pid"}

    @staticmethod
    def cloudformation_type():
        return "AWS::EC2::SecurityGroupEgress"

    def _rule_args(self):
        p = self.props
        ip_ranges = []
        if p.get("CidrIp"):
            ip_ranges.append({"CidrIp": p["CidrIp"], "Description": p.get("Description")})
        ipv6 = [{"CidrIpv6": p["CidrIpv6"]}] if p.get("CidrIpv6") else []
        groups = [{"GroupId": p["DestinationSecurityGroupId"], "Description": p.get("Description")}] \
            if p.get("DestinationSecurityGroupId") else None
        prefixes = [{"PrefixListId": p["DestinationPrefixListId"]}] if p.get("DestinationPrefixListId") else None
        return dict(group_name_or_id=p["GroupId"], ip_protocol=str(p.get("IpProtocol", "-1")),
                    from_port=p.get("FromPort", -1), to_port=p.get("ToPort", -1), ip_ranges=ip_ranges + ipv6,
                    source_groups=groups, prefix_list_ids=prefixes)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        obj = cls()
        obj.props = cloudformation_json.get("Properties", {})
        rules, _ = call(_backend("ec2", account_id, region_name).authorize_security_group_egress, **obj._rule_args())
        obj.pid = rules[0].id if rules else f"sgr-{uuid.uuid4().hex[:17]}"
        return obj

    def ext_delete(self, account_id, region_name):
        try:
            call(_backend("ec2", account_id, region_name).revoke_security_group_egress, **self._rule_args())
        except Exception as e:  # noqa: BLE001 - the group or the rule is gone already
            if "NotFound" not in type(e).__name__ + str(e):
                raise


class ExtBucketPolicy(ExtBase, CloudFormationModel):
    __module__ = MOD
    ATTRS = {}

    @staticmethod
    def cloudformation_type():
        return "AWS::S3::BucketPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        doc = p.get("PolicyDocument")
        _global_backend("s3", account_id).put_bucket_policy(p["Bucket"], json.dumps(doc).encode())
        obj = cls()
        obj.props, obj.pid = p, p["Bucket"]
        return obj

    def ext_delete(self, account_id, region_name):
        try:
            _global_backend("s3", account_id).delete_bucket_policy(self.pid)
        except Exception as e:  # noqa: BLE001
            if "NoSuchBucket" not in type(e).__name__ + str(e):
                raise


class ExtS3AutoDeleteObjects(ExtBase, CloudFormationModel):
    """CDK's Custom::S3AutoDeleteObjects: on delete, empty the bucket (all versions), as its Lambda does.

    Registered under its Custom:: type by cfn_engine (moto otherwise invokes the Lambda in Docker).
    """
    __module__ = MOD
    ATTRS = {}

    @staticmethod
    def cloudformation_type():
        return "Custom::S3AutoDeleteObjects"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        p = cloudformation_json.get("Properties", {})
        obj = cls()
        obj.props, obj.bucket, obj.pid = p, p.get("BucketName"), f"{resource_name}-{uuid.uuid4().hex[:8]}"
        return obj

    def ext_delete(self, account_id, region_name):
        s3 = _global_backend("s3", account_id)
        bucket = s3.buckets.get(self.bucket)
        if bucket is None:
            return
        for key in list(bucket.keys.keys()):
            versions = bucket.keys.getlist(key)
            for v in list(versions):
                s3.delete_object(self.bucket, key, version_id=getattr(v, "version_id", None))


NEW_TYPES = [ExtSecret, ExtSecretTargetAttachment, ExtCacheSubnetGroup, ExtReplicationGroup, ExtCacheCluster,
             ExtPrivateDnsNamespace, ExtDiscoveryService, ExtScalableTarget, ExtScalingPolicy,
             ExtSecurityGroupEgress, ExtBucketPolicy]
CUSTOM_TYPES = {"Custom::S3AutoDeleteObjects": ExtS3AutoDeleteObjects}


def apply():
    from moto.cloudformation import parsing as P
    from .check import require
    require(P, "get_model_list", "get_model_map", "get_name_type_map", "resource_class_from_type")
    for f in (P.get_model_list, P.get_model_map, P.get_name_type_map):
        f.cache_clear()
    model_map = P.get_model_map()
    for cls in NEW_TYPES:
        if model_map.get(cls.cloudformation_type()) is not cls:
            raise RuntimeError(f"registering {cls.cloudformation_type()} failed: moto maps it to "
                               f"{model_map.get(cls.cloudformation_type())}")

    orig = P.resource_class_from_type

    def resource_class_from_type(resource_type):
        if resource_type in CUSTOM_TYPES:
            return CUSTOM_TYPES[resource_type]
        return orig(resource_type)
    P.resource_class_from_type = resource_class_from_type
