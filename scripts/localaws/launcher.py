"""fairflow's local AWS: moto's server, extended in-process, on a free loopback port.

Imports moto, applies fairflow's extensions (moto_ext), then runs moto.server.main in this process.
Signature checking is on by default, with a known test user.

Contract (other scripts and the Swift test launcher read it): KEY=VALUE lines on stdout, then READY:
  [FAULT_PROXY_ENDPOINT=...]  (with --fault-proxy)
  LOCAL_AWS_ENDPOINT=http://127.0.0.1:PORT
  LOCAL_AWS_PID=...
  AWS_ACCESS_KEY_ID=...
  AWS_SECRET_ACCESS_KEY=...
  READY
Serves until SIGTERM/SIGINT. The server log goes to stderr (or --log FILE).
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

TEST_USER = "fairflow-test"
BOOTSTRAP_CALLS = 3


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def call(endpoint, params):
    data = "&".join(f"{k}={urllib.request.quote(v, safe='')}" for k, v in params.items()).encode()
    req = urllib.request.Request(endpoint + "/", data=data, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        # Unsigned bootstrap calls, counted by INITIAL_NO_AUTH_ACTION_COUNT.
        "Authorization": "AWS4-HMAC-SHA256 Credential=bootstrap/20200101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
    })
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def fail(msg):
    print(f"local-aws: {msg}", file=sys.stderr, flush=True)
    os._exit(1)


def bootstrap(args, port):
    """Runs beside the server: wait for the port, create the test user, print the contract."""
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.time() > deadline:
                fail("moto did not start listening within 30 s — see the log above")
            time.sleep(0.05)
    key_id, secret = "testing", "testing"
    try:
        if not args.no_auth:
            call(endpoint, {"Action": "CreateUser", "UserName": TEST_USER, "Version": "2010-05-08"})
            policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
            call(endpoint, {"Action": "PutUserPolicy", "UserName": TEST_USER, "PolicyName": "admin",
                            "PolicyDocument": policy, "Version": "2010-05-08"})
            body = call(endpoint, {"Action": "CreateAccessKey", "UserName": TEST_USER, "Version": "2010-05-08"})
            key_id = body.split("<AccessKeyId>")[1].split("<")[0]
            secret = body.split("<SecretAccessKey>")[1].split("<")[0]
    except Exception as e:  # noqa: BLE001 - any failure here means the server is unusable
        fail(f"creating the test user failed: {e} — is another server answering on port {port}?")
    if args.fault_proxy:
        import fault_proxy
        proxy = fault_proxy.start(endpoint)
        print(f"FAULT_PROXY_ENDPOINT={proxy.endpoint}")
    print(f"LOCAL_AWS_ENDPOINT={endpoint}")
    print(f"LOCAL_AWS_PID={os.getpid()}")
    if args.run and not args.plain:
        import runtime
        from runtime import net
        runtime.core.set_endpoint(endpoint)
        print(f"LOCAL_AWS_RUNTIME_DIR={runtime.core.root()}")
        print(f"LOCAL_AWS_HOSTS_FILE={net.HOSTS.hosts_path()}")
    print(f"AWS_ACCESS_KEY_ID={key_id}")
    print(f"AWS_SECRET_ACCESS_KEY={secret}")
    print("READY", flush=True)


def main():
    ap = argparse.ArgumentParser(description="fairflow's local AWS (moto, extended)")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    ap.add_argument("--no-auth", action="store_true", help="do not check signatures")
    ap.add_argument("--fault-proxy", action="store_true",
                    help="also start the fault-injecting proxy in front of moto; prints FAULT_PROXY_ENDPOINT")
    ap.add_argument("--plain", action="store_true", help="plain moto: apply none of fairflow's extensions")
    ap.add_argument("--run", action="store_true",
                    help="run the stack for real: ECS tasks as processes, MariaDB, Redis, EFS, the ALB (runtime/)")
    ap.add_argument("--log", help="write the server log to this file instead of stderr")
    args = ap.parse_args()
    if args.log:
        fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        sys.stderr = os.fdopen(2, "w", buffering=1)
    port = args.port or free_port()
    if not port_is_free(port):
        fail(f"port {port} on 127.0.0.1 is in use — pick another --port or omit it for a free one")
    if not args.no_auth:
        os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(BOOTSTRAP_CALLS)
    from moto import settings
    settings.INITIAL_NO_AUTH_ACTION_COUNT = BOOTSTRAP_CALLS if not args.no_auth else float("inf")
    if args.run:
        os.environ["LOCAL_AWS_RUN"] = "1"
    if not args.plain:
        import moto_ext
        try:
            moto_ext.apply()
        except Exception as e:  # noqa: BLE001
            fail(f"extending moto failed: {e}")
    import moto.server

    def on_signal(signum, frame):
        # Say who stopped us: a server that vanishes mid-test is otherwise a mystery. The likely
        # senders are kill/pkill processes alive at this moment.
        try:
            ps = subprocess.run(["ps", "-eo", "pid,ppid,etime,args"], capture_output=True, text=True, timeout=2).stdout
            killers = [line for line in ps.splitlines() if "kill" in line and "ps -eo" not in line]
        except Exception:  # noqa: BLE001
            killers = []
        print(f"local-aws: stopping on signal {signum} (parent pid {os.getppid()}); kill-like processes now: "
              f"{killers or 'none seen'}", file=sys.stderr, flush=True)
        sys.exit(0)
    moto.server.signal_handler = on_signal
    threading.Thread(target=bootstrap, args=(args, port), daemon=True).start()
    moto.server.main(["-H", "127.0.0.1", "-p", str(port)])


if __name__ == "__main__":
    main()
