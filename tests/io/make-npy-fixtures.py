#!/usr/bin/python3
# Writes genuine np.save / numpy.lib.format files into the folder given as argument, for
# test-io-npy: every dtype lmgc reads, both byte orders, C and Fortran order, format
# versions 1.0/2.0/3.0, empty and 0-d arrays. Needs python3-numpy.
import os
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
codes = ["f2", "f4", "f8", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "b1", "c8", "c16"]
n = 0
for code in codes:
    for order in "<>":
        dt = np.dtype(order + code)
        for shape in [(3, 5), (2, 3, 4), (0,), ()]:
            for fortran in [False, True]:
                for version in [(1, 0), (2, 0), (3, 0)]:
                    raw = rng.integers(0, 256, size=int(np.prod(shape)) * dt.itemsize, dtype=np.uint8)
                    a = np.frombuffer(raw.tobytes(), dtype=dt).reshape(shape)
                    if code == "b1":
                        a = a.astype(bool).astype(dt)
                    if fortran:
                        a = np.asfortranarray(a)
                    name = f"{code}-{'le' if order == '<' else 'be'}-{'x'.join(map(str, shape)) or 'scalar'}-{'F' if fortran else 'C'}-v{version[0]}.npy"
                    with open(os.path.join(out, name), "wb") as f:
                        np.lib.format.write_array(f, a, version=version)
                    n += 1
# Plain np.save (what most people run), special float values, raw 2-byte void (bf16 bits).
special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3.4e38], dtype="<f4")
special.view("<u4")[4] = 0x7FC12345
np.save(os.path.join(out, "special.npy"), special)
np.save(os.path.join(out, "void2.npy"), np.frombuffer(rng.bytes(20), dtype="V2"))
np.save(os.path.join(out, "grad.npy"), (rng.standard_normal(10000) * 1e-3).astype("<f4"))
print(n + 3)
