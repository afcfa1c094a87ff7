"""Start-up time of gpas commands: wall time and user+sys CPU per call, the mean of --runs calls
each (resource.getrusage of the children, so microseconds, not /usr/bin/time's 10 ms steps).

    python3 bench/startup.py --gpas build/cli/gpas [--runs 20] [--workdir DIR]

The goal (issue 26): a command that does not train starts in 50 ms or less, since the front `gpas`
does not load LibTorch (cli/CMakeLists.txt); `train --help` and `libtorch` go on to gpas-torch and
pay LibTorch's half second. --workdir names a workdir for `runs list` (default: a new empty one).
Stdout and stderr of the commands are discarded; a command that fails shows its exit code.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time


def measure(argv, runs):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    for _ in range(runs):
        rc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        if rc != 0:
            return None, rc
    wall = (time.perf_counter() - t0) / runs
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / runs
    return wall * 1000, cpu * 1000


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gpas", default="build/cli/gpas")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--workdir", help="for `runs list` (default: a new empty workdir)")
    a = p.parse_args()
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = a.workdir or tmp
        if not a.workdir:
            subprocess.run([a.gpas, "ingest", "--workdir", tmp], stdout=subprocess.DEVNULL, check=True)
        commands = [
            ["--version"],
            ["runs", "list", "--workdir", workdir],
            ["completion", "bash"],
            ["sweep", "plan", os.path.join(src, "experiments", "table2.yaml")],
            ["train", "--help"],
            ["libtorch"],
        ]
        print(f"{'command':<40} {'wall ms':>8} {'cpu ms':>8}   (mean of {a.runs}; {a.gpas})")
        for c in commands:
            wall, cpu = measure([a.gpas] + c, a.runs)
            shown = " ".join(c).replace(workdir, "W").replace(src + "/", "")
            print(f"{shown:<40} {wall:8.1f} {cpu:8.1f}" if wall is not None else f"{shown:<40} exit {cpu}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
