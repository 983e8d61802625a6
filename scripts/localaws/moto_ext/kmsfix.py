"""AWS::KMS::Key in CloudFormation carries Tags as Key/Value and KeyPolicy as a JSON object; moto's KMS
back end wants TagKey/TagValue (else the resource fails with KeyError: 'TagKey') and a policy string
(else every later DescribeKey is a 500). Translate before creating."""
import json

from .check import require


def apply():
    from moto.kms import models
    require(models, "Key")
    original = models.Key.create_from_cloudformation_json.__func__

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        tags = props.get("Tags")
        if tags:
            props["Tags"] = [{"TagKey": t.get("Key", t.get("TagKey")), "TagValue": t.get("Value", t.get("TagValue"))} for t in tags]
        if isinstance(props.get("KeyPolicy"), dict):
            props["KeyPolicy"] = json.dumps(props["KeyPolicy"])
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    models.Key.create_from_cloudformation_json = create_from_cloudformation_json

    # CloudFormation deletes a key by scheduling its deletion (PendingWindowInDays, default 30).
    from . import cfn_engine

    def delete_key(res, account_id, region_name):
        days = int(getattr(res, "pending_window_in_days", None) or 30)
        models.kms_backends[account_id][region_name].schedule_key_deletion(res.id, min(max(days, 7), 30))

    cfn_engine.DELETE_HANDLERS["AWS::KMS::Key"] = delete_key
