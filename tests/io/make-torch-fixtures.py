#!/usr/bin/python3
# Writes genuine torch.save files into the folder given as argument, for test-io-torch:
# the paper's collector layout, views sharing storage, every dtype, nested containers, a
# whole module, other pickle protocols, and one legacy (non-zip) file. Also writes
# expected.json: for each file, the tensor names lmgc should report. Needs python3-torch.
import collections
import json
import os
import sys

import torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
expected = {}


def save(name, obj, names=None, **kw):
    torch.save(obj, os.path.join(out, name), **kw)
    if names is not None:
        expected[name] = names


# The paper's collector: {'state_dict': {name: grad}, 'batch_step': 400}.
net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.GroupNorm(2, 4), torch.nn.ReLU(),
                          torch.nn.Flatten(), torch.nn.Linear(4 * 26 * 26, 10))
x = torch.randn(8, 1, 28, 28)
net(x).pow(2).mean().backward()
grads = {n: p.grad.detach().clone() for n, p in net.named_parameters()}
save("collector.pt", {"state_dict": grads, "batch_step": 400},
     ["state_dict." + n for n in grads])

# A module's state_dict (OrderedDict with _metadata) and the module itself.
save("state_dict.pt", net.state_dict(), list(net.state_dict().keys()))
save("module.pt", net)

# Views sharing one storage, offsets into it, non-contiguous tensors, a storage saved twice.
base = torch.randn(6, 5)
save("views.pt", {"base": base, "row": base[2], "tail": base[3:], "t": base.t(),
                  "other": torch.arange(7, dtype=torch.int32)[2:]}, ["base", "other"])

# Every dtype torch 1.13 stores.
dtypes = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.uint8, torch.int8,
          torch.int16, torch.int32, torch.int64, torch.bool, torch.complex64, torch.complex128]
all_dtypes = {}
for i, dt in enumerate(dtypes):
    if dt.is_complex:
        t = torch.randn(3, 4, dtype=dt)
    elif dt.is_floating_point:
        t = torch.randn(3, 4).to(dt)
    elif dt == torch.bool:
        t = torch.rand(3, 4) > 0.5
    else:
        t = torch.randint(-100 if dt != torch.uint8 else 0, 100, (3, 4), dtype=dt)
    all_dtypes[str(dt).replace("torch.", "")] = t
save("dtypes.pt", all_dtypes, list(all_dtypes.keys()))

# Special float values, empty and 0-d tensors, nested containers and plain Python values.
special = torch.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-45, -1e-45,
                        3.4e38, 1.0])
special_bits = special.view(torch.int32)
special_bits[4] = 0x7fc12345  # NaN with a payload
save("special.pt", {"special": special, "empty": torch.empty(0, 3), "scalar": torch.tensor(2.5),
                    "nested": [torch.ones(2), (torch.zeros(3), {"deep": torch.full((2, 2), 7.0)})],
                    "meta": {"lr": 0.1, "name": "run-1", "flags": {1, 2}, "none": None,
                             "big": 2**70, "neg": -5, "bytes": b"\x00\x01"}},
     ["special", "scalar", "nested.0", "nested.1.0", "nested.1.1.deep"])

# Parameters (_rebuild_parameter), a bare tensor, pickle protocol 4 (frames, memoize).
save("parameter.pt", {"w": torch.nn.Parameter(torch.randn(4, 4))}, ["w"])
save("tensor.pt", torch.randn(10), ["tensor"])
save("protocol4.pt", {"state_dict": {"a": torch.randn(5), "b": torch.randn(2, 2)},
                      "batch_step": 1200}, ["state_dict.a", "state_dict.b"], pickle_protocol=4)

# Legacy format: refused with a clear message.
save("legacy.pt", {"state_dict": {"a": torch.randn(5)}, "batch_step": 1},
     _use_new_zipfile_serialization=False)

with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
