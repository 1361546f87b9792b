#!/usr/bin/env python3
"""DDP with lmgc's lossless communication hook, against the same all-gather without coding.

    PYTHONPATH=build/python /usr/bin/python3 examples/ddp_bench.py --world 2 --steps 20
    PYTHONPATH=build/python /usr/bin/python3 examples/ddp_bench.py --world 3 --steps 20 --width 16
    PYTHONPATH=build/python /usr/bin/python3 examples/ddp_bench.py --level 5      # cm
    PYTHONPATH=build/python /usr/bin/python3 examples/ddp_bench.py --codec zstd --set level=1

Starts WORLD processes on this machine (gloo over loopback). Each trains the paper's
ConvNet on Fashion-MNIST twice in lockstep, from the same start and on the same batches:
one DDP model with lmgc.torch.ddp_comm_hook, one with lmgc.torch.ddp_allgather_hook (the
raw buckets all-gathered and summed in the same rank order). After every backward the two
models' gradients are compared bit for bit, and at the end their weights; every rank's
gradients are hashed and the hashes compared across ranks.

Per step it reports the bytes a rank sends, with the hook ((n-1) x the largest coded
bucket, plus the sizes), with a ring allreduce of the raw buckets (2 (n-1)/n x the bytes:
reduce-scatter then all-gather), and with the raw all-gather ((n-1) x the bytes); the
coding time (encode own bucket + decode the n-1 others; the slowest rank), in wall time and
in CPU time of the process (the work itself, steadier on a shared machine); and, from the
CPU time, the link bandwidth below which the hook makes a step faster than a ring allreduce:
    coding_time + hook_bytes / bw < allreduce_bytes / bw
    <=>  bw < (allreduce_bytes - hook_bytes) / coding_time
(communication only; the allreduce's own summing and the hook's are left out). Exits 1 if
any check fails.
"""

import argparse
import datetime
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def settings(pairs):
    """--set KEY=VALUE arguments as the codec options dict (None when there are none)."""
    out = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k:
            raise SystemExit(f"--set takes KEY=VALUE, not {p!r}")
        out[k] = v
    return out or None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(a):
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    sys.path.insert(0, HERE)
    import lmgc.torch
    from convnet_fmnist import ConvNet, load_fashion_mnist

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{a.port}", rank=a.rank,
                            world_size=a.world, timeout=datetime.timedelta(seconds=a.timeout))
    x, y = load_fashion_mnist("train", n=a.world * a.batch * a.steps)

    def make(hook):
        torch.manual_seed(0)
        m = DDP(ConvNet(width=a.width))
        m.register_comm_hook(None, hook)
        return m, torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)

    ref_hook = lmgc.torch.ddp_allgather_hook()
    lm_hook = lmgc.torch.ddp_comm_hook(codec=a.codec or None, threads=a.threads,
                                       level=a.level or None, options=settings(a.set))
    ref, ref_opt = make(ref_hook)
    lm, lm_opt = make(lm_hook)
    loss_fn = torch.nn.CrossEntropyLoss()

    def bits(t):
        return t.detach().contiguous().view(-1).view(torch.int32)

    steps, grad_mismatch = [], 0
    for s in range(a.steps):
        lo = (s * a.world + a.rank) * a.batch
        xb, yb = x[lo: lo + a.batch], y[lo: lo + a.batch]
        n_ref, n_lm = len(ref_hook.stats), len(lm_hook.stats)
        for m, opt in ((ref, ref_opt), (lm, lm_opt)):
            opt.zero_grad()
            loss_fn(m(xb), yb).backward()
        h = hashlib.sha256()
        for p, q in zip(ref.parameters(), lm.parameters()):
            if not torch.equal(bits(p.grad), bits(q.grad)):
                grad_mismatch += 1
            h.update(bits(q.grad).numpy().tobytes())
        ref_opt.step()
        lm_opt.step()
        lm_stats = lm_hook.stats[n_lm:]
        ref_stats = ref_hook.stats[n_ref:]
        steps.append({
            "grad_sha256": h.hexdigest(),
            "raw_bytes": sum(b["raw_bytes"] for b in lm_stats),
            "coded_bytes": sum(b["coded_bytes"] for b in lm_stats),
            "max_coded_bytes": sum(b["max_coded_bytes"] for b in lm_stats),
            "n_buckets": len(lm_stats),
            "encode_s": sum(b["encode_s"] for b in lm_stats),
            "decode_s": sum(b["decode_s"] for b in lm_stats),
            "encode_cpu_s": sum(b["encode_cpu_s"] for b in lm_stats),
            "decode_cpu_s": sum(b["decode_cpu_s"] for b in lm_stats),
            "comm_s": sum(b["comm_s"] for b in lm_stats),
            "ref_comm_s": sum(b["comm_s"] for b in ref_stats),
        })
    weights_equal = all(torch.equal(bits(p), bits(q))
                        for p, q in zip(ref.parameters(), lm.parameters()))
    wh = hashlib.sha256()
    for q in lm.parameters():
        wh.update(bits(q).numpy().tobytes())
    result = {"rank": a.rank, "steps": steps, "grad_mismatches": grad_mismatch,
              "weights_equal": weights_equal, "weights_sha256": wh.hexdigest(),
              "n_params": sum(p.numel() for p in lm.parameters()), "codec": lm_hook.codec}
    with open(a.out + ".tmp", "w") as f:
        json.dump(result, f)
    dist.barrier()
    # Every rank has its result: only now is it final (run() reads it as the rank's word that
    # it got through the last collective, should gloo's teardown then hang).
    os.replace(a.out + ".tmp", a.out)
    if a.hang_after_result:
        time.sleep(3600)  # the tests' stand-in for a teardown that never returns
    dist.destroy_process_group()


def run(world, steps, width, batch, codec, level, sets, threads, timeout, grace=20, hang=-1):
    """Starts the ranks, waits (killing them after timeout seconds), returns their results."""
    port = free_port()
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        procs, outs = [], []
        for r in range(world):
            out = os.path.join(tmp, f"rank{r}.json")
            outs.append(out)
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--rank", str(r),
                   "--port", str(port), "--world", str(world), "--steps", str(steps),
                   "--width", str(width), "--batch", str(batch), "--codec", codec or "",
                   "--level", str(level or 0), *(x for kv in sets for x in ("--set", kv)),
                   "--threads", str(threads), "--timeout", str(timeout), "--out", out,
                   *(["--hang-after-result"] if r == hang else [])]
            log = open(os.path.join(tmp, f"rank{r}.log"), "w")
            procs.append((subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT),
                          log))
        deadline = time.monotonic() + timeout
        failed, stuck, done_at = [], set(), None
        # torch 1.13's gloo can hang in process-group teardown (seen once in CI's path: a rank
        # stuck after the final barrier, its peers gone). A rank's result file appears only
        # once every rank is through the last collective: once all are there, the stragglers
        # get `grace` seconds to exit and are then stopped.
        while any(p.poll() is None for p, _ in procs):
            now = time.monotonic()
            crashed = [r for r, (p, _) in enumerate(procs) if p.poll() not in (None, 0)]
            if done_at is None and all(os.path.exists(o) for o in outs):
                done_at = now
            if crashed or now > deadline or (done_at is not None and now - done_at > grace):
                for r, (p, _) in enumerate(procs):
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                        if done_at is not None:
                            stuck.add(r)
                            print(f"ddp_bench: rank {r} hung in gloo's teardown after its "
                                  f"result; stopped it", file=sys.stderr)
                        elif not crashed:
                            failed.append(f"rank {r}: timed out after {timeout} s")
                break
            time.sleep(0.05)
        for r, (p, log) in enumerate(procs):
            log.close()
            if p.returncode != 0 and r not in stuck and not failed:
                failed.append(f"rank {r}: exit code {p.returncode}")
        if failed:
            logs = ""
            for r in range(world):
                with open(os.path.join(tmp, f"rank{r}.log")) as f:
                    logs += f"--- rank {r}\n{f.read()[-3000:]}\n"
            raise RuntimeError("; ".join(failed) + "\n" + logs)
        results = []
        for out in outs:
            with open(out) as f:
                results.append(json.load(f))
        return results


def summarize(results):
    """Checks and the per-step table (one row per step), from every rank's results."""
    world = len(results)
    n_steps = len(results[0]["steps"])
    checks = {
        "grads_equal_to_reference": all(r["grad_mismatches"] == 0 for r in results),
        "weights_equal_to_reference": all(r["weights_equal"] for r in results),
        "ranks_identical": all(
            len({r["steps"][s]["grad_sha256"] for r in results}) == 1 for s in range(n_steps))
        and len({r["weights_sha256"] for r in results}) == 1,
    }
    rows = []
    for s in range(n_steps):
        st = [r["steps"][s] for r in results]
        raw = st[0]["raw_bytes"]
        coded_max = st[0]["max_coded_bytes"]
        hook = (world - 1) * (coded_max + 8 * st[0]["n_buckets"])
        allreduce = 2 * (world - 1) / world * raw
        allgather = (world - 1) * raw
        code_s = max(x["encode_s"] for x in st) + max(x["decode_s"] for x in st)
        code_cpu = max(x["encode_cpu_s"] for x in st) + max(x["decode_cpu_s"] for x in st)
        coded_mean = statistics.mean(x["coded_bytes"] for x in st)
        saved = allreduce - hook
        rows.append({
            "step": s, "raw_bytes": raw, "coded_bytes_mean": coded_mean,
            "rate_percent": 100.0 * coded_mean / raw, "hook_wire": hook,
            "allreduce_wire": allreduce, "allgather_wire": allgather, "coding_s": code_s,
            "coding_cpu_s": code_cpu, "coding_MBps": world * raw / code_cpu / 1e6,
            "breakeven_MBps": saved / code_cpu / 1e6 if saved > 0 else 0.0,
        })
    return checks, rows


def markdown(rows, world, label):
    def mb(x):
        return f"{x / 1e6:.3f}"
    out = [f"| {label} step | bucket MB | coded % | hook MB | allreduce MB | all-gather MB | "
           "coding ms (wall) | coding ms (CPU) | coding MB/s (CPU) | hook faster below |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['step']} | {mb(r['raw_bytes'])} | {r['rate_percent']:.2f} | "
                   f"{mb(r['hook_wire'])} | {mb(r['allreduce_wire'])} | {mb(r['allgather_wire'])} | "
                   f"{1e3 * r['coding_s']:.1f} | {1e3 * r['coding_cpu_s']:.1f} | "
                   f"{r['coding_MBps']:.1f} | {breakeven(r['breakeven_MBps'])} |")
    return "\n".join(out)


def breakeven(mbps):
    if mbps <= 0:
        return "never"
    return f"{mbps:.2f} MB/s ({mbps * 8:.1f} Mbit/s)"


def describe(a, picked):
    """The codec as the tables name it: "fast (hook default)", "zstd, level 1" (a setting),
    "lmgc level 5" (picked: the hook's codec attribute)."""
    if a.codec:
        parts = [a.codec]
    elif a.level:
        parts = [f"lmgc level {a.level}"]
    else:
        parts = [f"{picked} (hook default)"]
    return ", ".join(parts + [kv.replace("=", " ") for kv in a.set])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", type=int, default=2, help="number of processes (default 2)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--width", type=int, default=128, help="ConvNet channels (paper: 128)")
    ap.add_argument("--batch", type=int, default=32, help="batch per rank")
    ap.add_argument("--codec", default="",
                    help="lmgc codec (default: the hook's default, fast, unless --level)")
    ap.add_argument("--level", type=int, default=0,
                    help="lmgc level 1..9: picks the codec and its settings when --codec is not "
                         "given (5 = cm, the library's default)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="codec setting, e.g. --set level=1 for zstd's level (repeatable)")
    ap.add_argument("--threads", type=int, default=1, help="coding threads per rank")
    ap.add_argument("--timeout", type=int, default=600, help="seconds before giving up")
    ap.add_argument("--json", help="write the checks and rows here")
    ap.add_argument("--all-steps", action="store_true", help="print every step, not a summary")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--teardown-grace", type=float, default=20, help=argparse.SUPPRESS)
    ap.add_argument("--hang-rank", type=int, default=-1, help=argparse.SUPPRESS)
    ap.add_argument("--hang-after-result", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a)
        return 0
    t0 = time.monotonic()
    settings(a.set)  # checked before the ranks start
    results = run(a.world, a.steps, a.width, a.batch, a.codec, a.level, a.set, a.threads,
                  a.timeout, a.teardown_grace, a.hang_rank)
    checks, rows = summarize(results)
    label = f"n={a.world}"
    print(f"DDP, {a.world} processes, ConvNet width {a.width} "
          f"({results[0]['n_params']} parameters), batch {a.batch}/rank, {a.steps} steps, "
          f"codec {describe(a, results[0]['codec'])}, "
          f"{a.threads} coding thread(s)/rank, "
          f"{time.monotonic() - t0:.0f} s")
    for k, v in checks.items():
        print(f"  {k}: {'yes' if v else 'NO'}")
    shown = rows if a.all_steps else [rows[0], rows[len(rows) // 2], rows[-1]]
    print(markdown(shown, a.world, label))
    med = {k: statistics.median(r[k] for r in rows)
           for k in ("rate_percent", "coding_s", "coding_cpu_s", "coding_MBps", "breakeven_MBps")}
    r0 = rows[0]
    print("summary (medians over the steps):")
    print("| n | codec | bucket MB | coded % | hook MB | ring allreduce MB | raw all-gather MB | "
          "coding ms, wall / CPU | coding MB/s (CPU) | hook faster below |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {a.world} | {describe(a, results[0]['codec'])} | {r0['raw_bytes'] / 1e6:.3f} | "
          f"{med['rate_percent']:.2f} | "
          f"{statistics.median(r['hook_wire'] for r in rows) / 1e6:.3f} | "
          f"{r0['allreduce_wire'] / 1e6:.3f} | {r0['allgather_wire'] / 1e6:.3f} | "
          f"{1e3 * med['coding_s']:.0f} / {1e3 * med['coding_cpu_s']:.0f} | "
          f"{med['coding_MBps']:.1f} | {breakeven(med['breakeven_MBps'])} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"checks": checks, "rows": rows, "world": a.world, "width": a.width,
                       "codec": results[0]["codec"],
                       "n_params": results[0]["n_params"]}, f, indent=1)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
