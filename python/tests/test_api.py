# The calls around the tensors: info, codecs, compress_file / decompress_file, progress
# callbacks, the GIL released while coding, determinism, `import lmgc` without numpy/torch.
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import lmgc
import lmgc.numpy as lnp
from conftest import lmgc_cli


def grads(n=1 << 18, seed=0):
    rng = np.random.default_rng(seed)
    g = (rng.standard_normal(n) * 1e-3).astype(np.float32)
    g[rng.random(n) < 0.3] = 0
    return g


def test_version_and_codecs():
    assert lmgc.__version__.count(".") == 2
    cs = lmgc.codecs()
    names = [c["name"] for c in cs]
    assert "cm" in names and "store" in names
    assert sum(c["is_default"] for c in cs) == 1
    for c in cs:
        assert set(c) == {"name", "summary", "available", "why_missing", "is_default"}


def test_info():
    data = lnp.save({"g": grads(1000).reshape(10, 100), "i": np.arange(7)}, metadata={"a": "b"})
    i = lmgc.info(data)
    assert i["source_format"] == "safetensors" and i["file_bytes"] == len(data)
    assert [(t["name"], t["dtype"], t["shape"]) for t in i["tensors"]] == [
        ("g", "f32", (10, 100)), ("i", "i64", (7,))]
    assert {s["dtype"] for s in i["streams"]} == {"f32", "i64"}
    assert i["tensor_bytes"] == 4000 + 56


def test_compress_file_round_trip_is_byte_identical(tmp_path):
    src = tmp_path / "g.npy"
    np.save(src, grads(5000))
    stats = lmgc.compress_file(src, codec="zstd", level=3)
    assert stats["output_bytes"] == os.path.getsize(str(src) + ".lmgc")
    assert stats["rate_percent"] < 100
    out = lmgc.decompress_file(str(src) + ".lmgc", tmp_path / "back.npy")
    assert open(out, "rb").read() == src.read_bytes()


def test_cli_reads_python_files_and_back(tmp_path):
    cli = lmgc_cli()
    if cli is None:
        pytest.skip("no build/lmgc")
    t = {"g": grads(3000)}
    lnp.save_file(t, tmp_path / "p.lmgc")
    subprocess.run([cli, "decompress", "-q", str(tmp_path / "p.lmgc"), "-o",
                    str(tmp_path / "p.safetensors")], check=True)
    subprocess.run([cli, "compress", "-q", str(tmp_path / "p.safetensors"), "-o",
                    str(tmp_path / "q.lmgc")], check=True)
    assert lnp.load_file(tmp_path / "q.lmgc")["g"].tobytes() == t["g"].tobytes()
    assert (tmp_path / "q.lmgc").read_bytes() == (tmp_path / "p.lmgc").read_bytes()


def test_same_bytes_every_time():
    t = {"g": grads()}
    assert lnp.save(t) == lnp.save(t) == lnp.save(t, threads=1)


def test_progress_callback():
    calls = []
    t = {"g": grads()}
    data = lnp.save(t, chunk_bytes=1 << 16, progress=lambda d, n: calls.append((d, n)))
    assert calls and calls[-1][0] == calls[-1][1] > 0
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    calls.clear()
    lnp.load(data, progress=lambda d, n: calls.append((d, n)))
    assert calls and calls[-1][0] == calls[-1][1]


def test_progress_callback_exception_stops_coding():
    def stop(done, total):
        if done > 0:
            raise KeyError("stop here")
    with pytest.raises(KeyError, match="stop here"):
        lnp.save({"g": grads()}, chunk_bytes=1 << 16, progress=stop)
    with pytest.raises(KeyboardInterrupt):
        lnp.load(lnp.save({"g": grads()}), progress=lambda d, n: (_ for _ in ()).throw(
            KeyboardInterrupt()))


def test_gil_is_released_while_coding():
    """Another Python thread keeps running during a long compression."""
    t = {"g": grads(1 << 21)}  # 8 MB: several tenths of a second with the default codec
    ticks = [0]
    running = [True]

    def spin():
        while running[0]:
            ticks[0] += 1
            time.sleep(0.001)

    th = threading.Thread(target=spin)
    th.start()
    try:
        time.sleep(0.05)
        before = ticks[0]
        t0 = time.perf_counter()
        data = lnp.save(t, threads=1)
        seconds = time.perf_counter() - t0
        during = ticks[0] - before
        before = ticks[0]
        lnp.load(data, threads=1)
        during_load = ticks[0] - before
    finally:
        running[0] = False
        th.join()
    assert seconds > 0.05
    assert during >= 10 and during_load >= 10, (seconds, during, during_load)


def test_progress_from_several_threads():
    seen = set()
    lnp.save({"g": grads(1 << 20)}, threads=2, chunk_bytes=1 << 16,
             progress=lambda d, n: seen.add(threading.get_ident()))
    assert seen


def test_import_needs_neither_numpy_nor_torch():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('numpy', 'torch'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import lmgc\n"
        "assert 'numpy' not in sys.modules and 'torch' not in sys.modules\n"
        "print(len(lmgc.codecs()))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_numpy_works_without_torch():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import numpy as np, lmgc, lmgc.numpy\n"
        "a = np.arange(12, dtype=np.float32).reshape(3, 4)\n"
        "assert lmgc.numpy.load(lmgc.numpy.save({'a': a}))['a'].tobytes() == a.tobytes()\n"
        "assert lmgc.decompress(lmgc.compress(a)).tobytes() == a.tobytes()\n"
        "try:\n"
        "    import lmgc.torch\n"
        "except ImportError:\n"
        "    print('ok')\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_lm_codec_round_trip(tmp_path):
    """In a LibTorch build the lm codec loads liblmgc-torch.so from beside the extension (the
    build copies it there); the extension itself never links LibTorch."""
    if not any(c["name"] == "lm" and c["available"] for c in lmgc.codecs()):
        pytest.skip("built without LibTorch")
    pkg = os.path.dirname(os.path.abspath(lmgc.__file__))
    assert os.path.exists(os.path.join(pkg, "liblmgc-torch.so"))
    cli = lmgc_cli()
    if cli is None:
        pytest.skip("no build/lmgc to write a random model")
    model = tmp_path / "tiny"
    subprocess.run([cli, "random-model", str(model)], check=True, capture_output=True)
    t = {"g": grads(256)}
    data = lnp.save(t, codec="lm", options={"model": str(model)}, threads=1)
    assert lmgc.info(data)["streams"][0]["codec"] == "lm"
    back = lnp.load(data, options={"model": str(model)}, threads=1)
    assert back["g"].tobytes() == t["g"].tobytes()


def test_extension_does_not_link_libtorch():
    ext = lmgc._lmgc.__file__
    r = subprocess.run(["ldd", ext], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("no ldd")
    assert "libtorch" not in r.stdout and "libc10" not in r.stdout, r.stdout
