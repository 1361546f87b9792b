# lmgc.numpy: every safetensors dtype round-trips bit for bit through save_file/load_file and
# save/load; odd layouts (non-contiguous, zero-size, 0-d, Fortran order, big-endian);
# metadata; bf16 policy; one-tensor compress/decompress.
import json
import struct

import numpy as np
import pytest

import lmgc
import lmgc.numpy as lnp

NUMPY_DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
                np.uint8, np.uint16, np.uint32, np.uint64, np.bool_]


def sample(dtype, shape=(7, 13), seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    n = int(np.prod(shape))
    if dt == np.bool_:
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    if dt.kind == "f":
        a = rng.standard_normal(n).astype(dt) * dt.type(1e-2)
        special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, np.finfo(dt).tiny / 4,
                            np.finfo(dt).max], dtype=dt)
        k = min(n, len(special))
        a[:k] = special[:k]
        # a NaN with a payload: its bits must come back too
        bits = a.view(f"u{dt.itemsize}")
        bits[-1] = np.iinfo(bits.dtype).max
        return a.reshape(shape)
    info = np.iinfo(dt)
    a = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    a[:2] = [info.min, info.max]
    return a.reshape(shape)


def same(a, b):
    return (a.dtype == b.dtype and a.shape == b.shape
            and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes())


@pytest.mark.parametrize("dtype", NUMPY_DTYPES, ids=lambda d: np.dtype(d).name)
def test_dtype_round_trip_file(tmp_path, dtype):
    t = {"x": sample(dtype), "y": sample(dtype, (5,), seed=1)}
    path = tmp_path / "t.lmgc"
    stats = lnp.save_file(t, path)
    assert stats["output_bytes"] == path.stat().st_size
    back = lnp.load_file(path)
    assert list(back) == ["x", "y"]
    for k in t:
        assert same(t[k], back[k])


@pytest.mark.parametrize("dtype", NUMPY_DTYPES, ids=lambda d: np.dtype(d).name)
def test_dtype_round_trip_bytes(dtype):
    t = {"w": sample(dtype, (3, 4, 5))}
    data = lnp.save(t)
    assert isinstance(data, bytes)
    back = lnp.load(data)
    assert same(t["w"], back["w"])


def test_all_dtypes_in_one_file(tmp_path):
    t = {np.dtype(d).name: sample(d, (11,), seed=i) for i, d in enumerate(NUMPY_DTYPES)}
    lnp.save_file(t, tmp_path / "all.lmgc")
    back = lnp.load_file(tmp_path / "all.lmgc")
    assert list(back) == list(t)
    assert all(same(t[k], back[k]) for k in t)


def test_layouts():
    base = sample(np.float32, (8, 6))
    t = {
        "transposed": base.T,
        "strided": base[::2, 1::3],
        "reversed": base[::-1],
        "fortran": np.asfortranarray(base),
        "zero_size": np.zeros((0, 5), np.float32),
        "zero_size_3d": np.zeros((2, 0, 3), np.int64),
        "scalar": np.array(3.5, np.float64),
        "numpy_scalar": np.float16(-2.0),
        "big_endian": base.astype(">f4"),
        "big_endian_i8": sample(np.int64, (4,)).astype(">i8"),
    }
    back = lnp.load(lnp.save(t))
    for k, v in t.items():
        want = np.asarray(v)
        if want.dtype.byteorder == ">":
            want = want.astype(want.dtype.newbyteorder("<"))
        assert same(want, back[k]), k
    assert back["scalar"].shape == () and back["zero_size_3d"].shape == (2, 0, 3)


def test_contiguous_input_is_not_copied():
    a = sample(np.float32)
    entry = lnp.tensor_entry("a", a)
    assert entry[3] is a
    rows = a[2:4]  # a contiguous view: passed as is too
    assert lnp.tensor_entry("row", rows)[3] is rows


def test_loaded_arrays_are_writable_and_own_their_memory():
    back = lnp.load(lnp.save({"a": sample(np.float32), "b": sample(np.int32)}))
    a = back.pop("a")
    del back
    import gc
    gc.collect()
    a[0, 0] = 1.0
    assert a[0, 0] == 1.0 and a.flags.writeable


def test_load_decodes_into_the_arrays_it_returns():
    """No copy on load: each array is the one the allocator made (numpy.empty), which the
    library decoded into; Fortran-order .npy arrays come back in Fortran order."""
    t = {"a": sample(np.float32, (64, 33)), "z": np.zeros((0, 3), np.int16),
         "s": np.array(7, np.int64)}
    for back in (lnp.load(lnp.save(t)), lnp.load(lnp.save(t, codec="store"))):
        for k, v in back.items():
            assert v.base is None and v.flags.owndata and v.flags.c_contiguous, k
            assert same(t[k], v)


def test_verify():
    t = {"g": sample(np.float32, (128, 65))}
    data = lnp.save(t, verify=True)
    assert data == lnp.save(t) and same(lnp.load(data)["g"], t["g"])


def test_level_picks_the_codec():
    t = {"g": sample(np.float32, (64, 33))}
    names = {c["name"] for c in lmgc.codecs() if c["available"]}
    expected = {1: "planes", 2: "fast", 9: "cm"}  # docs/levels.md: 1 planes, 2-3 fast, 4-9 cm
    for level, codec in expected.items():
        i = lmgc.info(lnp.save(t, level=level))
        assert i["level"] == level
        if codec in names:
            assert i["streams"][0]["codec"] == codec
    assert lmgc.info(lnp.save(t))["level"] == 0


def test_metadata_and_order(tmp_path):
    t = {name: np.arange(i + 1, dtype=np.float32) for i, name in enumerate("zyxabc")}
    meta = {"step": "400", "format": "np", "note": "ünïcode \"quoted\""}
    lnp.save_file(t, tmp_path / "m.lmgc", metadata=meta)
    back, m = lnp.load_file(tmp_path / "m.lmgc", return_metadata=True)
    assert list(back) == list("zyxabc") and m == meta


def test_file_is_safetensors_when_decompressed(tmp_path):
    """`lmgc decompress` of a save_file output is a valid .safetensors file."""
    t = {"a": sample(np.float32, (3, 5)), "b": sample(np.int8, (4,)), "e": np.zeros(0, np.uint8)}
    lnp.save_file(t, tmp_path / "s.lmgc", metadata={"k": "v"})
    out = lmgc.decompress_file(tmp_path / "s.lmgc")
    assert out.endswith("s")
    raw = open(out, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0
    header = json.loads(raw[8: 8 + n])
    assert header["__metadata__"] == {"k": "v"}
    data = raw[8 + n:]
    for name, code in (("a", "F32"), ("b", "I8"), ("e", "U8")):
        h = header[name]
        assert h["dtype"] == code and tuple(h["shape"]) == t[name].shape
        b, e = h["data_offsets"]
        assert data[b:e] == t[name].tobytes()
    assert lmgc.info(tmp_path / "s.lmgc")["source_format"] == "safetensors"


def test_bf16_policy():
    torch = pytest.importorskip("torch")
    import lmgc.torch as lt
    bits = np.array([0x3F80, 0xC000, 0x7FC1, 0x0001], np.uint16)  # 1, -2, NaN payload, subnormal
    t = torch.from_numpy(bits.view(np.int16).copy()).view(torch.bfloat16)
    data = lt.save({"w": t})
    with pytest.raises(lmgc.UnsupportedError, match="bfloat16"):
        lnp.load(data)
    assert lnp.load(data, bf16="uint16")["w"].tobytes() == bits.tobytes()
    wide = lnp.load(data, bf16="float32")["w"]
    assert wide.dtype == np.float32
    assert (wide.view(np.uint32) == bits.astype(np.uint32) << 16).all()
    with pytest.raises(lmgc.UsageError):
        lnp.load(data, bf16="float64")


def test_one_tensor_compress_decompress():
    for d in NUMPY_DTYPES:
        a = sample(d, (4, 9))
        data = lmgc.compress(a)
        back = lmgc.decompress(data)
        assert isinstance(back, np.ndarray) and same(a, back)
    s = lmgc.decompress(lmgc.compress(np.float64(2.5)))
    assert s.shape == () and s == 2.5
    with pytest.raises(lmgc.UsageError, match="2 tensors"):
        lmgc.decompress(lnp.save({"a": np.zeros(2), "b": np.zeros(2)}))


def test_decompress_into_out(tmp_path):
    """out=: decoded into the caller's array (returned), every dtype; a Fortran-order .npy
    file into a Fortran-order array; what does not fit is refused before anything is
    written, with the error's class."""
    for d in NUMPY_DTYPES:
        a = sample(d, (4, 9))
        out = np.full_like(a, 7)
        assert lmgc.decompress(lmgc.compress(a), out=out) is out and same(a, out)
    a = sample(np.float32, (40, 3))
    data = lmgc.compress(a)
    keep = np.full((40, 3), 7, np.float32)
    for bad, err, what in [(np.full((40, 3), 7, np.float64), lmgc.MismatchError, "float64"),
                           (np.full((3, 40), 7, np.float32), lmgc.MismatchError, "shape"),
                           (np.full((40, 3), 7, ">f4"), lmgc.MismatchError, ">f4"),
                           (np.full((40, 3), 7, np.float32, order="F"), lmgc.MismatchError,
                            "C-contiguous"),
                           (np.full((80, 3), 7, np.float32)[::2], lmgc.MismatchError,
                            "C-contiguous")]:
        before = bad.copy()
        with pytest.raises(err, match=what):
            lmgc.decompress(data, out=bad)
        assert np.array_equal(bad, before)
    keep.flags.writeable = False
    with pytest.raises(lmgc.UsageError, match="writeable"):
        lmgc.decompress(data, out=keep)
    with pytest.raises(lmgc.UsageError, match="numpy.ndarray or a torch.Tensor"):
        lmgc.decompress(data, out=[0.0] * 120)
    with pytest.raises(lmgc.UsageError, match="framework"):
        lmgc.decompress(data, out=np.empty_like(a), framework="numpy")
    with pytest.raises(lmgc.UsageError):
        lmgc.decompress(lnp.save({"a": np.zeros(2), "b": np.zeros(2)}), out=np.empty(2))
    f = np.asfortranarray(sample(np.float32, (5, 3)))
    np.save(tmp_path / "f.npy", f)
    lmgc.compress_file(tmp_path / "f.npy")
    out = np.empty((5, 3), np.float32, order="F")
    assert same(lmgc.decompress(tmp_path / "f.npy.lmgc", out=out), f)
    with pytest.raises(lmgc.MismatchError, match="Fortran"):
        lmgc.decompress(tmp_path / "f.npy.lmgc", out=np.empty((5, 3), np.float32))
    np.save(tmp_path / "b.npy", f.astype(">f4"))
    lmgc.compress_file(tmp_path / "b.npy")
    with pytest.raises(lmgc.UnsupportedError, match="big-endian"):
        lmgc.decompress(tmp_path / "b.npy.lmgc", out=out)


@pytest.mark.parametrize("codec", ["zstd", "gzip", "store", "shuffle-zstd"])
def test_codecs_and_levels(codec):
    names = {c["name"] for c in lmgc.codecs() if c["available"]}
    if codec not in names:
        pytest.skip(f"{codec} not built in")
    t = {"g": sample(np.float32, (64, 33)), "i": sample(np.int64, (10,))}
    for level in (None, 1, 9):
        data = lnp.save(t, codec=codec, level=level)
        assert all(same(t[k], v) for k, v in lnp.load(data).items())
    assert lmgc.info(lnp.save(t, codec=codec))["streams"][0]["codec"] == codec


def test_threads_and_chunks_give_the_same_tensors():
    t = {"g": sample(np.float32, (256, 257))}
    one = lnp.save(t, threads=1, chunk_bytes=16384)
    two = lnp.save(t, threads=2, chunk_bytes=16384)
    assert one == two
    assert lmgc.info(one)["n_chunks"] > 1
    assert same(lnp.load(two, threads=2)["g"], t["g"])


def test_npy_and_safetensors_files_made_elsewhere(tmp_path):
    """load_file reads .lmgc files of .npy files that `lmgc compress` made."""
    a = np.asfortranarray(sample(np.float32, (5, 3))).astype(">f4")
    np.save(tmp_path / "a.npy", a)
    lmgc.compress_file(tmp_path / "a.npy")
    back = lnp.load_file(tmp_path / "a.npy.lmgc")
    assert list(back) == ["array"]
    np.testing.assert_array_equal(back["array"], a)
    assert back["array"].dtype == a.dtype and back["array"].flags.f_contiguous
    assert same(lmgc.decompress(tmp_path / "a.npy.lmgc"), a)
    # 3-D, Fortran order, big-endian int16
    b = np.asfortranarray(sample(np.int16, (3, 4, 5))).astype(">i2")
    np.save(tmp_path / "b.npy", b)
    lmgc.compress_file(tmp_path / "b.npy")
    assert same(lnp.load_file(tmp_path / "b.npy.lmgc")["array"], b)


def test_many_tensors_with_long_names():
    """A file much larger than its tensor bytes (names dominate): save's bytes object grows
    past its first size."""
    t = {f"layer{i:04d}." + "x" * 300: np.full(1, i, np.float32) for i in range(1000)}
    data = lnp.save(t, metadata={"k" * 1000: "v" * 5000})
    assert len(data) > 2 * (4000 + 6000 + 1000 * 256)  # the first size: tensors + 256 each
    back, meta = lnp.load(data, return_metadata=True)
    assert list(back) == list(t) and all(same(t[k], back[k]) for k in t)
    assert meta == {"k" * 1000: "v" * 5000}
