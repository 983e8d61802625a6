"""Start moto's server on a free loopback port with signature checking on and a known test user.

Contract (other scripts and the Swift test launcher read it): KEY=VALUE lines on stdout, then READY.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

TEST_USER = "fairflow-test"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(endpoint, params):
    data = "&".join(f"{k}={urllib.request.quote(v, safe='')}" for k, v in params.items()).encode()
    req = urllib.request.Request(endpoint + "/", data=data, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        # Unsigned bootstrap calls, counted by INITIAL_NO_AUTH_ACTION_COUNT.
        "Authorization": "AWS4-HMAC-SHA256 Credential=bootstrap/20200101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
    })
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--no-auth", action="store_true")
    args = ap.parse_args()
    port = args.port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    bootstrap_calls = 3
    if not args.no_auth:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(bootstrap_calls)
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.Popen([sys.executable, os.path.join(here, "serve.py"), "-H", "127.0.0.1", "-p", str(port)],
                            env=env, stdout=sys.stderr, stderr=sys.stderr)

    def stop(*_):
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deadline = time.time() + 30
    while True:
        if proc.poll() is not None:
            print(f"local-aws: moto exited with {proc.returncode}", file=sys.stderr)
            sys.exit(1)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.time() > deadline:
                print("local-aws: moto did not start within 30 s", file=sys.stderr)
                stop()
            time.sleep(0.05)
    key_id, secret = "testing", "testing"
    if not args.no_auth:
        call(endpoint, {"Action": "CreateUser", "UserName": TEST_USER, "Version": "2010-05-08"})
        policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        call(endpoint, {"Action": "PutUserPolicy", "UserName": TEST_USER, "PolicyName": "admin",
                        "PolicyDocument": policy, "Version": "2010-05-08"})
        body = call(endpoint, {"Action": "CreateAccessKey", "UserName": TEST_USER, "Version": "2010-05-08"})
        key_id = body.split("<AccessKeyId>")[1].split("<")[0]
        secret = body.split("<SecretAccessKey>")[1].split("<")[0]
    print(f"LOCAL_AWS_ENDPOINT={endpoint}")
    print(f"LOCAL_AWS_PID={os.getpid()}")
    print(f"AWS_ACCESS_KEY_ID={key_id}")
    print(f"AWS_SECRET_ACCESS_KEY={secret}")
    print("READY", flush=True)
    proc.wait()


if __name__ == "__main__":
    main()
