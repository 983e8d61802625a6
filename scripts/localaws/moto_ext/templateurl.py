"""moto reads a TemplateURL's bucket from the host unless the host is `localhost` or an amazonaws.com
S3 name, so a path-style URL on 127.0.0.1 (what a client pointed at the local AWS builds) names a bucket
called "127". Read path-style URLs on any non-AWS host as bucket/key."""
from urllib.parse import unquote, urlparse

from moto.cloudformation import responses, utils

_original = utils.get_stack_from_s3_url


def get_stack_from_s3_url(template_url, account_id, partition):
    parts = urlparse(template_url)
    host = parts.hostname or ""
    if not host.endswith("amazonaws.com") and host != "localhost":
        from moto.s3.models import s3_backends
        bucket, key = unquote(parts.path).lstrip("/").split("/", 1)
        return s3_backends[account_id][partition].get_object(bucket, key).value.decode("utf-8")
    return _original(template_url, account_id, partition)


def apply():
    utils.get_stack_from_s3_url = get_stack_from_s3_url
    responses.get_stack_from_s3_url = get_stack_from_s3_url
