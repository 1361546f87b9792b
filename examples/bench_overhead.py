#!/usr/bin/env python3
"""Python call overhead: lmgc.numpy.save / load against the same library calls from C++.

    PYTHONPATH=build/python /usr/bin/python3 examples/bench_overhead.py             # 60 MB, default codec
    PYTHONPATH=build/python /usr/bin/python3 examples/bench_overhead.py --codec store

Makes a float32 tensor of --mb megabytes (gradient-like: normal * 1e-3, 30% zeros), then
alternates, --repeat times after one warm-up round: the C++ program
build/python/lmgc-bench-python-overhead, which times lmgc::compress_tensors and
lmgc::decompress_tensors of the same tensor (its values read from a file beforehand, not
timed; after an untimed round of its own, as the Python process is warm too), and the
Python calls data = lmgc.numpy.save({"g": g}) and lmgc.numpy.load(data), which make the
same library calls. Prints the median and best of each, in wall time and in CPU time of the
process (all threads), and the overhead, (Python - C++) / C++. Since separate processes on
a shared machine are noisy, it also reports, for the same Python calls, the time spent
inside lmgc::compress_tensors / decompress_tensors (measured in C++ by the extension) and
the rest: the overhead of the call.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import lmgc
import lmgc.numpy as lnp
from lmgc import _lmgc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=60)
    ap.add_argument("--codec", default="", help="codec (default: the library default)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--bench", help="the C++ program (default: next to the lmgc package)")
    a = ap.parse_args()
    bench = a.bench or os.path.join(os.path.dirname(os.path.dirname(lmgc.__file__)),
                                    "lmgc-bench-python-overhead")
    n = int(a.mb * 1e6 / 4)
    rng = np.random.default_rng(0)
    g = (rng.standard_normal(n) * 1e-3).astype(np.float32)
    g[rng.random(n) < 0.3] = 0
    tensors = {"g": g}
    codec = a.codec or None
    with tempfile.TemporaryDirectory() as tmp:
        values = os.path.join(tmp, "g.f32")
        g.tofile(values)
        keys = ("compress_s", "decompress_s", "compress_cpu_s", "decompress_cpu_s")
        cpp = {k: [] for k in keys}
        py = {k: [] for k in keys}
        inner = {"compress_s": [], "decompress_s": []}
        for r in range(a.repeat + 1):
            out = subprocess.run([bench, values, a.codec, str(a.threads)], check=True,
                                 capture_output=True, text=True).stdout
            c = json.loads(out)
            t0, c0 = time.perf_counter(), time.process_time()
            data = lnp.save(tensors, codec=codec, threads=a.threads)
            t1, c1 = time.perf_counter(), time.process_time()
            lib_c = _lmgc._last_library_seconds()
            back = lnp.load(data, threads=a.threads)
            t2, c2 = time.perf_counter(), time.process_time()
            lib_d = _lmgc._last_library_seconds()
            coded = len(data)
            assert coded == c["output_bytes"], "Python and C++ coded different files"
            assert back["g"].tobytes() == g.tobytes()
            del data, back  # freed outside the timed calls (munmap of 60 MB takes a while)
            if r == 0:
                continue  # warm-up
            for k in keys:
                cpp[k].append(c[k])
            inner["compress_s"].append(lib_c)
            inner["decompress_s"].append(lib_d)
            py["compress_s"].append(t1 - t0)
            py["decompress_s"].append(t2 - t1)
            py["compress_cpu_s"].append(c1 - c0)
            py["decompress_cpu_s"].append(c2 - c1)
    print(f"{a.mb:g} MB float32, codec {a.codec or 'default'}, threads {a.threads or 'all'}, "
          f"{a.repeat} runs after a warm-up, coded to {100 * coded / g.nbytes:.2f}%")
    print("In one process: the library call (lmgc::compress_tensors / decompress_tensors, "
          "timed in C++ inside the extension) against the whole Python call around it")
    print("| call | library s (median) | Python call s (median) | overhead s | overhead % |")
    print("|---|---:|---:|---:|---:|")
    for k, name in (("compress_s", "lmgc.numpy.save"), ("decompress_s", "lmgc.numpy.load")):
        over = [p - i for p, i in zip(py[k], inner[k])]
        im, pm, om = statistics.median(inner[k]), statistics.median(py[k]), statistics.median(over)
        print(f"| {name} | {im:.3f} | {pm:.3f} | {om:.3f} | "
              f"{100 * statistics.median(o / i for o, i in zip(over, inner[k])):.2f}% |")
    print("Against the C++ program (a separate process, alternating; noisier on a busy machine)")
    print("| call | clock | C++ median s | Python median s | overhead (median) | C++ best s | "
          "Python best s | overhead (best) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for k, name, clock in (("compress_s", "save (compress)", "wall"),
                           ("compress_cpu_s", "save (compress)", "CPU"),
                           ("decompress_s", "load (decompress)", "wall"),
                           ("decompress_cpu_s", "load (decompress)", "CPU")):
        cm, pm = statistics.median(cpp[k]), statistics.median(py[k])
        cb, pb = min(cpp[k]), min(py[k])
        print(f"| {name} | {clock} | {cm:.3f} | {pm:.3f} | {100 * (pm - cm) / cm:+.2f}% | "
              f"{cb:.3f} | {pb:.3f} | {100 * (pb - cb) / cb:+.2f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
