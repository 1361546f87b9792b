#!/usr/bin/env python3
"""Federated averaging with lmgc-coded updates, simulated in one process.

    PYTHONPATH=build/python /usr/bin/python3 examples/federated.py
    PYTHONPATH=build/python /usr/bin/python3 examples/federated.py --clients 8 --rounds 5 --width 128

N clients each hold a shard of Fashion-MNIST. Every round each client starts from the
server's weights, trains a few local SGD steps, and sends its weight update (new - old,
float32) coded by lmgc (lmgc.torch.save -> bytes). The server decodes the updates, averages
them (summed in client order, divided by N) and applies the average. Prints the bytes sent
per round against raw float32, and checks that the server's average is bit-identical to
the average of the uncompressed updates (exit code 1 if not).
"""

import argparse
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import lmgc.torch  # noqa: E402
from convnet_fmnist import ConvNet, load_fashion_mnist  # noqa: E402


def average(updates):
    """Sum in client order, then divide: the same bits wherever it runs."""
    out = {k: v.clone() for k, v in updates[0].items()}
    for u in updates[1:]:
        for k in out:
            out[k].add_(u[k])
    for k in out:
        out[k].div_(len(updates))
    return out


def same_bits(a, b):
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
        and torch.equal(a[k].view(-1).view(torch.int32), b[k].view(-1).view(torch.int32))
        for k in a)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--local-steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--width", type=int, default=128, help="ConvNet channels (paper: 128)")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--codec", default=None, help="lmgc codec (default: the library default)")
    ap.add_argument("--threads", type=int, default=0, help="coding threads (0 = all cores)")
    a = ap.parse_args(argv)

    torch.manual_seed(0)
    n_per_client = a.local_steps * a.batch
    x, y = load_fashion_mnist("train", n=a.clients * n_per_client)
    server = ConvNet(width=a.width)
    loss_fn = torch.nn.CrossEntropyLoss()
    raw_bytes = sum(p.numel() * p.element_size() for p in server.parameters())
    print(f"{a.clients} clients, {a.rounds} rounds of {a.local_steps} local steps, ConvNet "
          f"width {a.width}: {raw_bytes} bytes of float32 weights per update")
    print("| round | raw float32 bytes | lmgc bytes | rate % | encode s | decode s | "
          "average bit-identical |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    ok = True
    for rnd in range(a.rounds):
        base = {k: v.detach().clone() for k, v in server.state_dict().items()}
        updates, messages = [], []
        t_enc = t_dec = 0.0
        for c in range(a.clients):
            client = ConvNet(width=a.width)
            client.load_state_dict(base)
            opt = torch.optim.SGD(client.parameters(), lr=a.lr)
            lo = c * n_per_client
            for s in range(a.local_steps):
                b = lo + s * a.batch
                opt.zero_grad()
                loss_fn(client(x[b: b + a.batch]), y[b: b + a.batch]).backward()
                opt.step()
            update = {k: (v.detach() - base[k]) for k, v in client.state_dict().items()}
            t0 = time.perf_counter()
            messages.append(lmgc.torch.save(update, codec=a.codec, threads=a.threads))
            t_enc += time.perf_counter() - t0
            updates.append(update)
        # The server side: decode every message, average.
        t0 = time.perf_counter()
        received = [lmgc.torch.load(m) for m in messages]
        t_dec += time.perf_counter() - t0
        avg = average(received)
        reference = average(updates)
        identical = same_bits(avg, reference) and all(
            same_bits(r, u) for r, u in zip(received, updates))
        ok &= identical
        sent = sum(len(m) for m in messages)
        raw = a.clients * raw_bytes
        print(f"| {rnd} | {raw} | {sent} | {100.0 * sent / raw:.2f} | {t_enc:.3f} | "
              f"{t_dec:.3f} | {'yes' if identical else 'NO'} |")
        server.load_state_dict({k: base[k] + avg[k] for k in base})
    with torch.no_grad():
        xt, yt = load_fashion_mnist("test", n=1000)
        acc = (server(xt).argmax(1) == yt).float().mean().item()
    print(f"server accuracy on 1000 test images: {100 * acc:.1f}%")
    print("average bit-identical to the uncompressed one in every round:",
          "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
