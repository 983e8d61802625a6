"""Cleans up after the local AWS however it ended: reads lines from a pipe until EOF, then kills the
runtime's cgroup subtree, removes the mount-point stubs it was told about and the runtime directory.
argv: PIPE_FD CGROUP ROOT"""
import os
import shutil
import sys
import time


def main():
    fd, cg, root = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    stubs = []
    buf = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.startswith(b"stub "):
                stubs.append(line[5:].decode())
    # The local AWS is gone (or shut down and already cleaned up: then all this finds nothing).
    if os.path.isdir(cg):
        try:
            with open(os.path.join(cg, "cgroup.kill"), "w") as f:
                f.write("1")
        except OSError:
            pass
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                with open(os.path.join(cg, "cgroup.procs")) as f:
                    if not f.read().strip() and all(not open(os.path.join(d, "cgroup.procs")).read().strip()
                                                    for d, _, _ in os.walk(cg)):
                        break
            except OSError:
                break
            time.sleep(0.1)
        for d, _, _ in sorted(os.walk(cg), key=lambda t: -len(t[0])):
            try:
                os.rmdir(d)
            except OSError:
                pass
    for p in reversed(stubs):
        try:
            os.rmdir(p) if os.path.isdir(p) else os.unlink(p)
        except OSError:
            pass
    if root and os.path.isdir(root) and not os.environ.get("LOCAL_AWS_KEEP_RUNTIME_DIR"):
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
