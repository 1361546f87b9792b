#!/usr/bin/python3
"""Start-up cost of lmgc next to zstd (issue 11), side by side in one run: each command runs
N times, lmgc and zstd interleaved, on the same 4 KB .npy; prints wall time (median and best)
and CPU time (user + system, median) per command and the ratio lmgc / zstd.

usage: bench/bench-startup.py [--lmgc build/lmgc] [--runs 200] [--codecs fast,cm,zstd]"""
import argparse, os, random, resource, statistics, struct, subprocess, tempfile, time


def npy_4k(path):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }"
    header += ' ' * (118 - len(header)) + '\n'
    rng = random.Random(3)
    data = struct.pack('<1000f', *[rng.gauss(0, 1e-3) if rng.random() < 0.7 else 0.0 for _ in range(1000)])
    with open(path, 'wb') as f:
        f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(header)) + header.encode() + data)


def timed(cmd):
    """Wall seconds and CPU seconds (user + sys) of one run."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f'failed: {" ".join(cmd)}')
    return wall, ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--lmgc', default='build/lmgc')
    ap.add_argument('--runs', type=int, default=200)
    ap.add_argument('--codecs', default='fast,cm,zstd')
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix='lmgc-startup-bench-')
    f = os.path.join(d, 'g.npy')
    npy_4k(f)
    L = a.lmgc
    subprocess.run(['zstd', '-q', '-f', f, '-o', f + '.zst'], check=True)
    pairs = [('--help', [L, '--help'], ['zstd', '--help']),
             ('codecs', [L, 'codecs'], ['zstd', '-V']),
             ('info', None, ['zstd', '-l', '-q', f + '.zst'])]
    rows = []
    for c in a.codecs.split(','):
        out = os.path.join(d, f'g.{c}.lmgc')
        subprocess.run([L, 'compress', '-q', '-f', f, '-c', c, '-o', out], check=True)
        pairs.append((f'compress 4 KB ({c})', [L, 'compress', '-q', '-f', f, '-c', c, '-o', out],
                      ['zstd', '-q', '-f', f, '-o', f + '.zst']))
        pairs.append((f'decompress 4 KB ({c})', [L, 'decompress', '-q', '-f', out, '-o', out + '.npy'],
                      ['zstd', '-d', '-q', '-f', f + '.zst', '-o', f + '.back']))
        if pairs[2][1] is None:
            pairs[2] = ('info', [L, 'info', out], pairs[2][2])
    print(f'{a.runs} runs each, lmgc and zstd interleaved; ms per run\n')
    print('| command | lmgc wall median / best | zstd wall median / best | lmgc CPU | zstd CPU | wall ratio (median) |')
    print('|---|---:|---:|---:|---:|---:|')
    for name, lc, zc in pairs:
        lw, lcpu, zw, zcpu = [], [], [], []
        for _ in range(a.runs):
            w, c = timed(lc); lw.append(w); lcpu.append(c)
            w, c = timed(zc); zw.append(w); zcpu.append(c)
        ms = lambda v: f'{1000 * v:.2f}'
        print(f'| {name} | {ms(statistics.median(lw))} / {ms(min(lw))} | {ms(statistics.median(zw))} / {ms(min(zw))} | '
              f'{ms(statistics.median(lcpu))} | {ms(statistics.median(zcpu))} | {statistics.median(lw) / statistics.median(zw):.2f} |')
    subprocess.run(['rm', '-rf', d])


if __name__ == '__main__':
    main()
