#!/usr/bin/python3
"""Python save/load speed against an earlier build, alternated in one run (issue 12; stop 23's
in-memory decoding and huge-page advice).

    bench/bench-python-memory.py BUILD_PYTHON_DIR [OTHER_BUILD_PYTHON_DIR] [--mb 64] [--rounds 2]

Each build's package (the folder holding lmgc/, e.g. build/python) runs in its own process:
a float32 gradient-like tensor (normal x 1e-3, 30% zeros) through lmgc.numpy.save / load and
lmgc.torch.save / load, codecs fast and store, one thread; median of 5 calls after one,
in MB of tensor per CPU second of the process."""
import argparse
import os
import subprocess
import sys

CHILD = r"""
import statistics, sys, time
import numpy as np, torch
import lmgc.numpy as lnp, lmgc.torch as lt
mb = float(sys.argv[1])
rng = np.random.default_rng(0)
g = rng.standard_normal(int(mb * 2**20) // 4).astype(np.float32) * np.float32(1e-3)
g[rng.random(g.size) < 0.3] = 0
t = torch.from_numpy(g.copy())
def cpu(f, n=5):
    f()
    out = []
    for _ in range(n):
        c0 = time.process_time(); f(); out.append(time.process_time() - c0)
    return statistics.median(out)
m = g.nbytes / 1e6
for codec in ("fast", "store"):
    d, dt = lnp.save({"g": g}, codec=codec, threads=1), lt.save({"g": t}, codec=codec, threads=1)
    assert (lnp.load(d)["g"].view(np.uint32) == g.view(np.uint32)).all()
    r = [cpu(lambda: lnp.save({"g": g}, codec=codec, threads=1)), cpu(lambda: lnp.load(d, threads=1)),
         cpu(lambda: lt.save({"g": t}, codec=codec, threads=1)), cpu(lambda: lt.load(dt, threads=1))]
    print(f"{codec:6s} numpy save {m / r[0]:6.0f} load {m / r[1]:6.0f}   "
          f"torch save {m / r[2]:6.0f} load {m / r[3]:6.0f}")
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("builds", nargs="+", help="folders holding the lmgc package (build/python)")
    ap.add_argument("--mb", type=float, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    for r in range(a.rounds):
        for b in a.builds:
            if not os.path.isdir(os.path.join(b, "lmgc")):
                sys.exit(f"bench-python-memory: no lmgc package in '{b}'")
            print(f"round {r + 1}, {b} (MB/s per CPU second):", flush=True)
            env = dict(os.environ, PYTHONPATH=os.path.abspath(b))
            subprocess.run([sys.executable, "-c", CHILD, str(a.mb)], env=env, check=True)


if __name__ == "__main__":
    main()
