#!/usr/bin/python3
# Writes the input files of the CLI tests into the folder given as argument, with the
# standard library only (numpy and torch are used for genuine files when present):
# good/*  files that must round-trip bit for bit;
# bad/*   files that must be refused with a one-line error and exit code 1.
import json
import os
import random
import struct
import sys

out = sys.argv[1]
good = os.path.join(out, "good")
bad = os.path.join(out, "bad")
os.makedirs(good, exist_ok=True)
os.makedirs(bad, exist_ok=True)
rnd = random.Random(1)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def npy(descr, shape, data, fortran=False, header_extra=""):
    shape_txt = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, %s}" % (
        descr, "True" if fortran else "False", shape_txt, header_extra)
    pad = (64 - (10 + len(d) + 1) % 64) % 64
    d = d + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + data


def safetensors(tensors, metadata=None, header=None):
    h = {}
    if metadata:
        h["__metadata__"] = metadata
    off = 0
    blob = b""
    for name, dtype, shape, data in tensors:
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
        blob += data
    text = (header if header is not None else json.dumps(h)).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def bits32(values):
    return struct.pack("<%dI" % len(values), *values)


grad = f32([rnd.gauss(0, 1e-3) if rnd.random() > 0.35 else 0.0 for _ in range(5000)])
special = bits32([0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,
                  0x7F800001, 0x7FBFFFFF, 0x7FC12345, 0xFFD2468A, 0x00000001, 0x80000001,
                  0x007FFFFF, 0x807FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000] * 40)

# Good inputs.
write(os.path.join(good, "grad.npy"), npy("<f4", [5000], grad))
write(os.path.join(good, "special.npy"), npy("<f4", [len(special) // 4], special))
write(os.path.join(good, "special-be.npy"),
      npy(">f4", [len(special) // 4], b"".join(special[i:i + 4][::-1] for i in range(0, len(special), 4))))
write(os.path.join(good, "special.raw"), special)
write(os.path.join(good, "empty.raw"), b"")
write(os.path.join(good, "empty.npy"), npy("<f4", [0], b""))
write(os.path.join(good, "empty-2d.npy"), npy("<f8", [3, 0], b""))
write(os.path.join(good, "scalar.npy"), npy("<f4", [], f32([1.5])))
write(os.path.join(good, "fortran.npy"), npy("<f8", [3, 4], struct.pack("<12d", *range(12)), True))
write(os.path.join(good, "int64.npy"), npy("<i8", [7], struct.pack("<7q", *range(-3, 4))))
write(os.path.join(good, "model.safetensors"), safetensors(
    [("w", "F32", [50, 20], grad[:4000]), ("b", "BF16", [8], bytes(rnd.randrange(256) for _ in range(16))),
     ("empty", "F32", [0, 4], b""), ("step", "I64", [], struct.pack("<q", 400)),
     ("special", "F32", [len(special) // 4], special)],
    metadata={"format": "pt", "note": "cli test"}))
write(os.path.join(good, "only-empty.safetensors"), safetensors([("e", "F16", [0], b"")]))

# Bad inputs: name -> bytes (each must fail with exit code 1).
bad_files = {
    "zero-length.npy": b"",
    "not-a-tensor.txt": b"hello, world\n",
    "truncated-magic.npy": b"\x93NUM",
    "huge-shape.npy": npy("<f4", [2**62, 2**62], b"\0" * 16),
    "huge-dim.npy": npy("<f4", [10**30], b"\0" * 16),
    "negative-shape.npy": npy("<f4", [-4], b"\0" * 16),
    "short-data.npy": npy("<f4", [100], b"\0" * 396),
    "bad-dtype.npy": npy("<x9", [4], b"\0" * 16),
    "junk-header.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': junk}\n" + b"\0" * 16,
    "header-past-end.npy": b"\x93NUMPY\x01\x00\xff\xff{'descr': '<f4'}",
    "structured.npy": npy("[('a', '<f4')]", [2], b"\0" * 8).replace(b"'[(", b"[(").replace(b")]'", b")]"),
    "junk-json.safetensors": safetensors([], header='{"a": {"dtype": "F32", junk'),
    "not-an-object.safetensors": safetensors([], header="[1, 2, 3]"),
    "offsets-past-end.safetensors": safetensors([], header=json.dumps(
        {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})) + b"\0" * 8,
    "size-mismatch.safetensors": safetensors([], header=json.dumps(
        {"a": {"dtype": "F32", "shape": [5], "data_offsets": [0, 16]}})) + b"\0" * 16,
    "negative-shape.safetensors": safetensors([], header=json.dumps(
        {"a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}})) + b"\0" * 16,
    "huge-shape.safetensors": safetensors([], header=json.dumps(
        {"a": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 16]}})) + b"\0" * 16,
    "overlap.safetensors": safetensors([], header=json.dumps(
        {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
         "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})) + b"\0" * 24,
    "bad-dtype.safetensors": safetensors([], header=json.dumps(
        {"a": {"dtype": "Q3", "shape": [4], "data_offsets": [0, 16]}})) + b"\0" * 16,
    "header-past-end.safetensors": struct.pack("<Q", 10**12) + b'{"a": 1}',
    "truncated.pt": b"PK\x03\x04" + b"\0" * 40,
}
for name, data in bad_files.items():
    write(os.path.join(bad, name), data)
# --raw with a size that is not a multiple of 4.
write(os.path.join(bad, "odd-size.raw"), grad[:4001])

# Genuine files where the libraries are there.
try:
    import numpy as np
    np.save(os.path.join(good, "numpy-f16.npy"), np.frombuffer(grad, dtype="<f4").astype("<f2"))
    np.save(os.path.join(good, "numpy-f64-fortran.npy"),
            np.asfortranarray(np.frombuffer(grad[:4800], dtype="<f4").astype(">f8").reshape(40, 30)))
except ImportError:
    pass
try:
    import torch
    g = torch.frombuffer(bytearray(grad), dtype=torch.float32)
    torch.save({"state_dict": {"conv.weight": g[:4000].reshape(40, 100), "conv.bias": g[4000:4010],
                               "fc.weight": g[100:200].to(torch.bfloat16), "steps": torch.arange(3)},
                "batch_step": 400}, os.path.join(good, "collector.pt"))
    torch.save({"a": g[:10]}, os.path.join(bad, "legacy.pt"), _use_new_zipfile_serialization=False)
except ImportError:
    pass
