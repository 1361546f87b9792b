#!/usr/bin/env python3
"""lmgc.torch.save against torch.save + zstd -19 on ConvNet / Fashion-MNIST gradients.

    PYTHONPATH=build/python /usr/bin/python3 examples/torch_save_size.py

Trains the paper's ConvNet (width 128) on Fashion-MNIST with SGD (batch 32, lr 0.01,
momentum 0.9) and, at a few steps, saves the gradient state dict the way the paper's
collector does ({'state_dict': {name: grad}, 'batch_step': step}): torch.save to a file,
that file through `zstd -19`, and lmgc.torch.save (default codec) of the same object
(which codes the same torch.save image).
Checks that lmgc.torch.load gives byte-for-byte equal tensors, and that `lmgc decompress`
of the .lmgc file gives the identical torch.save file.
"""

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import lmgc  # noqa: E402
import lmgc.torch  # noqa: E402
from convnet_fmnist import ConvNet, load_fashion_mnist  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", default="1,10,30", help="steps whose gradients are saved")
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--codec", default=None)
    a = ap.parse_args()
    steps = sorted(int(s) for s in a.steps.split(","))
    torch.manual_seed(0)
    x, y = load_fashion_mnist("train", n=32 * steps[-1])
    model = ConvNet(width=a.width)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    print("| step | tensor bytes | torch.save bytes | + zstd -19 | lmgc.torch.save | "
          "lmgc / zstd | lmgc save s | equal after load |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for s in range(1, steps[-1] + 1):
            b = (s - 1) * 32
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[b: b + 32]), y[b: b + 32]).backward()
            if s in steps:
                obj = {"state_dict": {k: p.grad.clone() for k, p in model.named_parameters()},
                       "batch_step": s}
                # The torch.save image lmgc.torch.save codes (torch.save into a buffer: the
                # zip's folder is "archive", where a path would give the file's name).
                buf = io.BytesIO()
                torch.save(obj, buf)
                pt = os.path.join(tmp, f"g{s}.pt")
                with open(pt, "wb") as f:
                    f.write(buf.getvalue())
                subprocess.run(["zstd", "-q", "-19", "-f", pt, "-o", pt + ".zst"], check=True)
                t0 = time.perf_counter()
                lmgc.torch.save(obj, pt + ".lmgc", codec=a.codec)
                t_save = time.perf_counter() - t0
                back = lmgc.torch.load(pt + ".lmgc")
                equal = back["batch_step"] == s and all(
                    v.dtype == back["state_dict"][k].dtype
                    and v.view(-1).view(torch.uint8).numpy().tobytes()
                    == back["state_dict"][k].view(-1).view(torch.uint8).numpy().tobytes()
                    for k, v in obj["state_dict"].items())
                restored = lmgc.decompress_file(pt + ".lmgc", pt + ".back")
                equal &= open(restored, "rb").read() == open(pt, "rb").read()
                tensor_bytes = sum(v.numel() * v.element_size()
                                   for v in obj["state_dict"].values())
                sizes = [os.path.getsize(p) for p in (pt, pt + ".zst", pt + ".lmgc")]
                ok &= equal and sizes[2] < sizes[1]
                print(f"| {s} | {tensor_bytes} | {sizes[0]} | {sizes[1]} | {sizes[2]} | "
                      f"{sizes[2] / sizes[1]:.3f} | {t_save:.2f} | {'yes' if equal else 'NO'} |")
            opt.step()
    print("lmgc.torch.save smaller than torch.save + zstd -19, tensors equal:",
          "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
