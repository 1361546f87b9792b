#!/usr/bin/python3
"""Instant start (issue 11): `lmgc --help`, `codecs`, `info`, and compress/decompress of a 4 KB
.npy with every codec but lm never map LibTorch. Each command's memory map is read from
/proc/<pid>/maps at its last moment: its standard output is a pipe filled to the brim, so the
process blocks in its first write to it (after all its work), and the test reads the map then.
As a control, a command that does need LibTorch (predict, with a tiny random model) must show
it, so the check can tell the two apart.

usage: test-cli-startup.py  (LMGC_BIN = the lmgc binary)"""
import fcntl, os, subprocess, sys, tempfile, time

LMGC = os.environ.get('LMGC_BIN', 'build/lmgc')
TORCH_MARKERS = ('libtorch', 'libc10', 'liblmgc-torch')
F_GETPIPE_SZ = 1032
failures = 0


def maps_at_first_write(cmd):
    """Runs cmd with stdout on a full pipe; returns its maps once it blocks writing to fd 1."""
    r, w = os.pipe()
    cap = fcntl.fcntl(w, F_GETPIPE_SZ)
    os.set_blocking(w, False)
    filled = 0
    while True:
        try:
            filled += os.write(w, b'x' * 65536)
        except BlockingIOError:
            break
    os.set_blocking(w, True)
    p = subprocess.Popen(cmd, stdout=w, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(w)
    maps = None
    deadline = time.time() + 120
    while time.time() < deadline:
        if p.poll() is not None:
            break
        try:
            fields = open(f'/proc/{p.pid}/syscall').read().split()
        except OSError:
            break
        if len(fields) > 1 and fields[0] == '1' and int(fields[1], 16) == 1:  # write(1, ...)
            maps = open(f'/proc/{p.pid}/maps').read()
            break
        time.sleep(0.005)
    # Let it finish: drain the pipe.
    os.set_blocking(r, False)
    while p.poll() is None:
        try:
            if not os.read(r, 1 << 20):
                break
        except BlockingIOError:
            time.sleep(0.005)
    err = p.stderr.read().decode(errors='replace')
    p.wait()
    os.close(r)
    return maps, p.returncode, err


def check(name, cmd, want_torch=False):
    global failures
    maps, rc, err = maps_at_first_write(cmd)
    if maps is None:
        print(f'FAIL: {name}: never blocked writing its output (exit {rc}): {err.strip()[:300]}')
        failures += 1
        return
    mapped = sorted({line.split()[-1] for line in maps.splitlines()
                     if any(m in line for m in TORCH_MARKERS)})
    if bool(mapped) != want_torch or rc != 0:
        print(f'FAIL: {name}: exit {rc}, LibTorch {"mapped: " + ", ".join(mapped) if mapped else "not mapped"}'
              f' (want {"mapped" if want_torch else "not mapped"}) {err.strip()[:300]}')
        failures += 1
    else:
        print(f'ok: {name}: LibTorch {"mapped" if mapped else "not mapped"}')


def main():
    tmp = tempfile.mkdtemp(prefix='lmgc-startup-')
    # A 4 KB .npy (1000 float32 plus its header), written without numpy.
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }"
    header += ' ' * (118 - len(header)) + '\n'
    import struct, random
    rng = random.Random(3)
    data = struct.pack('<1000f', *[rng.gauss(0, 1e-3) if rng.random() < 0.7 else 0.0 for _ in range(1000)])
    npy = os.path.join(tmp, 'g.npy')
    with open(npy, 'wb') as f:
        f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(header)) + header.encode() + data)
    codecs = subprocess.run([LMGC, 'codecs'], capture_output=True, text=True).stdout
    built = []
    lm_built = False
    for line in codecs.splitlines():
        cells = [c.strip() for c in line.split('|')]
        if len(cells) > 3 and cells[2] == 'built in':
            name = cells[1].replace(' (default)', '')
            if name == 'lm':
                lm_built = True
            else:
                built.append(name)
    if not built:
        print('FAIL: lmgc codecs lists no codec')
        return 1
    check('lmgc --help', [LMGC, '--help'])
    check('lmgc codecs', [LMGC, 'codecs'])
    for c in built:
        out = os.path.join(tmp, f'g-{c}.lmgc')
        check(f'compress 4 KB .npy -c {c}', [LMGC, 'compress', npy, '-c', c, '-o', out, '-f'])
        check(f'info ({c})', [LMGC, 'info', out])
        check(f'decompress ({c})', [LMGC, 'decompress', out, '-o', out + '.npy', '-f'])
    check('compress at the default level', [LMGC, 'compress', npy, '-o', npy + '.lmgc', '-f'])
    if lm_built:  # the control: this one needs LibTorch
        model = os.path.join(tmp, 'model')
        subprocess.run([LMGC, 'random-model', model, '--shape', 'tiny'], check=True,
                       capture_output=True)
        check('predict (the control: needs LibTorch)',
              [LMGC, 'predict', '--model', model, '--text', '3f80'], want_torch=True)
    else:
        print('skip: the control (this build has no LibTorch module)')
    subprocess.run(['rm', '-rf', tmp])
    print(f'{failures} failed')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
