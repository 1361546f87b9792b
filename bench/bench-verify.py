#!/usr/bin/python3
"""Cost of `lmgc compress --verify` (issue 10), side by side in one run: each file is
compressed with and without --verify at one thread, the two interleaved, R times per codec;
prints CPU seconds (user + system of the child, median) for compress, compress --verify and
decompress, and the ratio verify / plain. CPU time, not wall time: the machine is shared.

usage: bench/bench-verify.py [--lmgc build/lmgc] [--codecs cm,fast,zstd] [-r 3] FILE..."""
import argparse, os, statistics, subprocess, tempfile


def cpu(cmd):
    """CPU seconds (user + sys) of one run; fails loudly if the command fails."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f'failed: {" ".join(cmd)}: {p.stderr.read().decode().strip()}')
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--lmgc', default='build/lmgc')
    ap.add_argument('--codecs', default='cm,fast,zstd')
    ap.add_argument('-r', '--repeats', type=int, default=3)
    ap.add_argument('files', nargs='+')
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix='lmgc-verify-bench-')
    print('| file | codec | MB | compress CPU s | compress --verify CPU s | verify / plain | decompress CPU s |')
    print('|---|---|---:|---:|---:|---:|---:|')
    for f in a.files:
        mb = os.path.getsize(f) / 1e6
        for codec in a.codecs.split(','):
            out, back = os.path.join(d, 'x.lmgc'), os.path.join(d, 'back')
            plain, ver, dec = [], [], []
            for _ in range(a.repeats):
                base = [a.lmgc, 'compress', '-q', '-f', '-t', '1', '-c', codec, f, '-o', out]
                plain.append(cpu(base))
                ver.append(cpu(base + ['--verify']))
                dec.append(cpu([a.lmgc, 'decompress', '-q', '-f', '-t', '1', out, '-o', back]))
                with open(f, 'rb') as x, open(back, 'rb') as y:
                    if x.read() != y.read():
                        raise SystemExit(f'{f} ({codec}) did not decode back byte for byte')
            p, v, dd = (statistics.median(x) for x in (plain, ver, dec))
            print(f'| {os.path.basename(f)} | {codec} | {mb:.1f} | {p:.3f} | {v:.3f} | {v / p:.2f} | {dd:.3f} |')
            for x in (out, back):
                os.remove(x)
    os.rmdir(d)


if __name__ == '__main__':
    main()
