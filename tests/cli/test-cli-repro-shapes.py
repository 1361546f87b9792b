#!/usr/bin/python3
"""The data-loss repros of issue 10, at their real sizes, through the CLI: each file is
compressed with the default settings (and the listed chunk sizes), decompressed, and compared
byte for byte. lmgc 0.1.0 wrote .lmgc files for all of these that it could not decode (cm's
segment geometry: a 2-D tensor whose last chunk is shorter than a row, (1, N) tensors past one
chunk). Needs /usr/bin/python3 with numpy; the torch.save case also torch (skipped without).

usage: test-cli-repro-shapes.py   (LMGC_BIN = the lmgc binary)"""
import json, os, shutil, struct, subprocess, sys, tempfile
import numpy as np

LMGC = os.environ.get('LMGC_BIN', 'build/lmgc')
CHUNKS = [256, 512, 1000, 1024, 4096]
passed = failed = 0


def round_trip(path, extra=(), what=''):
    global passed, failed
    out, back = path + '.lmgc', path + '.back'
    c = subprocess.run([LMGC, 'compress', '-q', '-f', path, '-o', out, *extra], capture_output=True, text=True)
    d = subprocess.run([LMGC, 'decompress', '-q', '-f', out, '-o', back], capture_output=True, text=True) \
        if c.returncode == 0 else c
    ok = c.returncode == 0 and d.returncode == 0 and open(path, 'rb').read() == open(back, 'rb').read()
    label = f'{os.path.basename(path)} {" ".join(extra)} {what}'.strip()
    print(f'{"ok" if ok else "FAIL"}: {label}{"" if ok else ": " + (c.stderr + d.stderr).strip()}')
    passed += ok
    failed += not ok
    for f in (out, back):
        if os.path.exists(f):
            os.remove(f)


def bf16(a):
    """float32 -> bfloat16 bit patterns (round to nearest even), as uint16."""
    u = a.astype('<f4').view('<u4').astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype('<u2')


def safetensors(path, tensors):
    header, blobs, at = {}, [], 0
    for name, (dt, shape, data) in tensors.items():
        header[name] = {'dtype': dt, 'shape': list(shape), 'data_offsets': [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def main():
    rng = np.random.default_rng(10)
    tmp = tempfile.mkdtemp(prefix='lmgc-repro-')
    try:
        # Default chunks (1 MiB): a last chunk shorter than one row, and (1, N) past one chunk.
        cases = {
            'rows-64x4100-f32.npy': rng.standard_normal((64, 4100)).astype('<f4'),
            'row-1x262145-f32.npy': rng.standard_normal((1, 262145)).astype('<f4'),
            'row-1x524289-f16.npy': rng.standard_normal((1, 524289)).astype('<f2'),
            'row-1x131073-f64.npy': rng.standard_normal((1, 131073)).astype('<f8'),
        }
        for name, a in cases.items():
            p = os.path.join(tmp, name)
            np.save(p, a)
            round_trip(p)
        # bf16 (1, N) as a .safetensors tensor.
        p = os.path.join(tmp, 'row-1x524289-bf16.safetensors')
        safetensors(p, {'w': ('BF16', (1, 524289), bf16(rng.standard_normal(524289)).tobytes())})
        round_trip(p)
        # 1311 x 200 f32 and a mixed .safetensors file at small chunk sizes.
        p = os.path.join(tmp, 'rows-1311x200-f32.npy')
        np.save(p, (rng.standard_normal((1311, 200)) * 1e-3).astype('<f4'))
        for cb in CHUNKS:
            round_trip(p, ['--chunk-bytes', str(cb)])
        p = os.path.join(tmp, 'mixed.safetensors')
        g = rng.standard_normal(3 * 300 * 7).astype('<f4') * (rng.random(3 * 300 * 7) < 0.7)
        safetensors(p, {'a': ('F32', (3, 300, 7), g.tobytes()),
                        'b': ('BF16', (301, 13), bf16(rng.standard_normal(301 * 13)).tobytes()),
                        'c': ('F16', (17, 257), rng.standard_normal(17 * 257).astype('<f2').tobytes())})
        for cb in CHUNKS:
            round_trip(p, ['--chunk-bytes', str(cb)])
        # A torch.save checkpoint in the paper's collector format.
        try:
            import torch
        except ImportError:
            print('skip: torch.save case (no torch for /usr/bin/python3)')
        else:
            p = os.path.join(tmp, 'grad.pt')
            torch.manual_seed(10)
            sd = {'conv.weight': torch.randn(32, 3, 5, 5), 'conv.bias': torch.randn(32),
                  'fc.weight': torch.randn(10, 1311), 'fc.bias': torch.zeros(10)}
            torch.save({'state_dict': sd, 'batch_step': 400}, p)
            for cb in CHUNKS:
                round_trip(p, ['--chunk-bytes', str(cb)])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f'{passed} passed, {failed} failed')
    return 1 if failed or not passed else 0


if __name__ == '__main__':
    sys.exit(main())
