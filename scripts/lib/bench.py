"""Times commands side by side: N interleaved runs each; min, median, peak RSS; the ratio to a baseline.

Usage: bench.py --runs N --title T --name NAME -- CMD ... --name NAME2 -- CMD2 ...
The first command is the one compared (fairflow); the second is the peer (ratio = peer / first).
"""
import os
import statistics
import subprocess
import sys
import time


def run_once(cmd, env):
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - start
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {code}: {err[-500:]}")
    return elapsed, usage.ru_maxrss  # KiB on Linux


def main(argv):
    runs, title, cmds = 10, "", []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--runs":
            runs = int(argv[i + 1]); i += 2
        elif a == "--title":
            title = argv[i + 1]; i += 2
        elif a == "--name":
            name = argv[i + 1]
            assert argv[i + 2] == "--"
            j = i + 3
            while j < len(argv) and argv[j] != "--name":
                j += 1
            cmds.append((name, argv[i + 3:j])); i = j
        else:
            sys.exit(f"bench: unknown argument {a}")
    env = dict(os.environ)
    results = {name: ([], []) for name, _ in cmds}
    for name, cmd in cmds:  # one warm-up each
        run_once(cmd, env)
    for _ in range(runs):
        for name, cmd in cmds:
            t, rss = run_once(cmd, env)
            results[name][0].append(t)
            results[name][1].append(rss)
    print(f"\n{title} ({runs} runs each)")
    print(f"{'command':<44} {'min ms':>9} {'median ms':>10} {'peak RSS MB':>12}")
    for name, _ in cmds:
        ts, rs = results[name]
        print(f"{name:<44} {min(ts) * 1000:>9.1f} {statistics.median(ts) * 1000:>10.1f} {max(rs) / 1024:>12.1f}")
    if len(cmds) >= 2:
        a, b = cmds[0][0], cmds[1][0]
        ratio = statistics.median(results[b][0]) / statistics.median(results[a][0])
        mem = max(results[b][1]) / max(results[a][1])
        print(f"ratio (median time {b} / {a}): {ratio:.1f}x; peak memory ratio: {mem:.1f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
