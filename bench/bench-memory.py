#!/usr/bin/python3
"""Peak resident memory vs file size (issue 11): for each size, makes a .safetensors of
real-looking float32 gradients (scripts/make-big-gradients: real ones tiled and perturbed),
then compresses and decompresses it at 2 threads at the default level and with zstd level 3
under a hard memory limit, checking the round trip byte for byte — what the CI test
tests/cli/test-cli-memory.py does for 1 GiB, which this script runs once per size. Prints one
Markdown table: size, codec, peak RSS (MiB, from wait4), seconds and MB/s each way.

usage: bench/bench-memory.py [--lmgc build/lmgc] [--limit none|cgroup|rlimit] [SIZE...]
       (default sizes: 1G 4G 16G)
Needs about 3 x SIZE of free disk in $TMPDIR (default /var/tmp)."""
import argparse, os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
TEST = os.path.join(HERE, '..', 'tests', 'cli', 'test-cli-memory.py')
LINE = re.compile(r'^(ok|FAIL): (compress|decompress) \((.*)\): exit (\d+), peak (\d+) MiB, '
                  r'([0-9.]+) s, (\d+) MB/s')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--lmgc', default='build/lmgc')
    ap.add_argument('--limit', choices=['none', 'cgroup', 'rlimit'], default='none',
                    help='none (default: peak RSS measured by the kernel, not enforced), a '
                         '512 MiB memory cgroup (which also charges the page cache: on cgroup v1 '
                         'its reclaim of dirty pages slows files of many GiB to a crawl), or '
                         'RLIMIT_AS 2 GiB (only for files under ~1.5 GiB: the input is mapped '
                         'whole for parsing)')
    ap.add_argument('sizes', nargs='*', default=['1G', '4G', '16G'])
    a = ap.parse_args()
    env = dict(os.environ, LMGC_BIN=a.lmgc, LMGC_MEMORY_LIMIT=a.limit)
    rows, failed = [], False
    for size in a.sizes:
        print(f'{size}: running {TEST} ...', file=sys.stderr, flush=True)
        r = subprocess.run(['/usr/bin/python3', TEST, size], env=env, capture_output=True, text=True)
        sys.stderr.write(r.stdout)
        failed |= r.returncode != 0
        got = {}
        for line in r.stdout.splitlines():
            m = LINE.match(line)
            if m:
                got.setdefault(m.group(3), {})[m.group(2)] = m.groups()
        limit = next((l for l in r.stdout.splitlines() if l.startswith('limit:')), '')
        for codec, ops in got.items():
            c, d = ops.get('compress'), ops.get('decompress')
            if c and d:
                rows.append((size, codec, c[4], d[4], c[5], c[6], d[5], d[6],
                             'yes' if c[0] == d[0] == 'ok' else 'NO', limit))
    print('| file | codec | peak RSS compress (MiB) | peak RSS decompress (MiB) | compress s | MB/s | '
          'decompress s | MB/s | within 512 MiB, byte-identical |')
    print('|---|---|---:|---:|---:|---:|---:|---:|---|')
    for r in rows:
        print('| ' + ' | '.join(r[:9]) + ' |')
    if rows:
        print(f'\n{rows[0][9]}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
