"""Signature checking fixes.

moto computes the payload hash from `body or data`, and for a request with neither a body nor a query
string `data` is the request's *headers* (BaseResponse.setup_class falls back to them). So every
signed rest-json GET/DELETE without a query (EFS DescribeFileSystems, DeleteFileSystem, ...) fails
with SignatureDoesNotMatch. AWS signs the raw body, which is empty there: use the raw body, and the
form fields only for a form-encoded body (which werkzeug moves out of the raw body).
"""
from .check import require


def apply():
    from moto.iam import access_control as ac
    require(ac, "IAMRequestBase")
    require(ac.IAMRequestBase, "_create_aws_request", "_create_headers_for_aws_request", "_get_string_between")
    from botocore.awsrequest import AWSRequest

    def _create_aws_request(self):
        signed = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
        headers = self._create_headers_for_aws_request(signed, self._headers)
        body = self._body
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not body and "x-www-form-urlencoded" in (self._headers.get("Content-Type") or ""):
            body = self._data  # werkzeug consumed a form body into request.form; moto re-encodes it
        request = AWSRequest(method=self._method, url=self._path, data=body or b"", headers=headers)
        request.context["timestamp"] = headers["X-Amz-Date"]
        return request

    ac.IAMRequestBase._create_aws_request = _create_aws_request
