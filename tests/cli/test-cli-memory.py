#!/usr/bin/python3
"""Bounded memory on big files (issue 11): a 1 GiB .safetensors of real-looking gradients
(`lmgc collect` output tiled and perturbed by scripts/make-big-gradients; synthesized
gradient-like values where this build cannot train) compresses and decompresses byte for
byte at 2 threads with peak resident memory <= 512 MiB, at the default level and with zstd,
each run under a hard memory limit: a memory cgroup capped at 512 MiB where the machine lets
us make one, else an address-space limit (RLIMIT_AS, 2 GiB). The peak comes from the kernel
(wait4's ru_maxrss). bench/bench-memory.py measures 1, 4 and 16 GiB the same way.

usage: test-cli-memory.py [SIZE]   (LMGC_BIN = the lmgc binary; SIZE default 1G;
LMGC_MEMORY_LIMIT=rlimit: the address-space limit even where a cgroup can be made; =none:
no hard limit, the peak only measured — the input is mapped whole for parsing, so an
address-space limit below the file's size refuses it)"""
import hashlib, os, resource, shutil, subprocess, sys, tempfile, time

LMGC = os.environ.get('LMGC_BIN', 'build/lmgc')
SRC = os.environ.get('LMGC_SOURCE', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
BOUND_MIB = 512


def cgroup_v1():
    """A fresh memory cgroup (v1) capped at BOUND_MIB, or None where we cannot make one (or
    LMGC_MEMORY_LIMIT=rlimit asks for the address-space limit instead: a v1 cgroup also
    charges the page cache of the files written, and on files of many GiB its reclaim of dirty
    pages, not lmgc, sets the pace)."""
    if os.environ.get('LMGC_MEMORY_LIMIT') in ('rlimit', 'none'):
        return None
    root = '/sys/fs/cgroup/memory'
    if not os.path.isdir(root) or not os.access(root, os.W_OK):
        return None
    path = os.path.join(root, f'lmgc-memory-test-{os.getpid()}')
    try:
        os.mkdir(path)
        with open(os.path.join(path, 'memory.limit_in_bytes'), 'w') as f:
            f.write(str(BOUND_MIB << 20))
        return path
    except OSError:
        return None


def run_limited(cmd, cg):
    """Runs cmd under the limit; returns (exit status, peak RSS in MiB, seconds)."""
    def limit():
        if cg:
            with open(os.path.join(cg, 'cgroup.procs'), 'w') as f:
                f.write(str(os.getpid()))
        elif os.environ.get('LMGC_MEMORY_LIMIT') != 'none':
            resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    t0 = time.time()
    p = subprocess.Popen(cmd, preexec_fn=limit, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    err = p.stderr.read().decode(errors='replace').strip()
    return os.waitstatus_to_exitcode(status), ru.ru_maxrss / 1024, time.time() - t0, err


def digest(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while b := f.read(64 << 20):
            h.update(b)
    return h.hexdigest()


def main():
    size = sys.argv[1] if len(sys.argv) > 1 else '1G'
    tmp = tempfile.mkdtemp(prefix='lmgc-memory-', dir=os.environ.get('TMPDIR', '/var/tmp'))
    failures = 0
    cg = cgroup_v1()
    try:
        # Real gradients where this build can train; else synthesized ones.
        src = []
        r = subprocess.run([LMGC, 'collect', '--steps', '1', '--grad-interval', '1', '-q', '-o',
                            os.path.join(tmp, 'real')], capture_output=True, text=True)
        if r.returncode == 0:
            src = [os.path.join(tmp, 'real', f) for f in os.listdir(os.path.join(tmp, 'real'))]
        print(f'source: {"lmgc collect (ConvNet, Fashion-MNIST, 1 step)" if src else "synthesized (" + r.stderr.strip()[:120] + ")"}')
        big = os.path.join(tmp, 'big.safetensors')
        subprocess.run(['/usr/bin/python3', os.path.join(SRC, 'scripts', 'make-big-gradients'), big, size] + src,
                       check=True, stdout=subprocess.DEVNULL)
        want = digest(big)
        mb = os.path.getsize(big) / 1e6
        none = os.environ.get('LMGC_MEMORY_LIMIT') == 'none'
        limit = 'memory cgroup ' + str(BOUND_MIB) + ' MiB' if cg else 'none (peak RSS measured only)' if none else 'RLIMIT_AS 2 GiB'
        print(f'limit: {limit}; bound on peak RSS: {BOUND_MIB} MiB')
        for name, opts in [('default level', []), ('zstd level 3', ['-c', 'zstd', '--set', 'level=3'])]:
            lm = os.path.join(tmp, 'big.lmgc')
            rc, peak, sec, err = run_limited([LMGC, 'compress', '-q', '-f', '-t', '2', big, '-o', lm] + opts, cg)
            ok = rc == 0 and peak <= BOUND_MIB
            print(f'{"ok" if ok else "FAIL"}: compress ({name}): exit {rc}, peak {peak:.0f} MiB, {sec:.1f} s, {mb / sec:.0f} MB/s {err[:200]}')
            failures += not ok
            back = os.path.join(tmp, 'back.safetensors')
            rc, peak, sec, err = run_limited([LMGC, 'decompress', '-q', '-f', '-t', '2', lm, '-o', back], cg)
            ok = rc == 0 and peak <= BOUND_MIB
            print(f'{"ok" if ok else "FAIL"}: decompress ({name}): exit {rc}, peak {peak:.0f} MiB, {sec:.1f} s, {mb / sec:.0f} MB/s {err[:200]}')
            failures += not ok
            same = rc == 0 and digest(back) == want
            print(f'{"ok" if same else "FAIL"}: {name}: byte-identical')
            failures += not same
            for f in (lm, back):
                if os.path.exists(f):
                    os.remove(f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if cg:
            try:
                os.rmdir(cg)
            except OSError:
                pass
    print(f'{failures} failed')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
