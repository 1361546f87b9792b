# lmgc.torch: every torch dtype safetensors has round-trips (bf16 as torch.bfloat16),
# odd layouts, device=, torch.save/torch.load of arbitrary objects, one-tensor calls.
import io
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lmgc  # noqa: E402
import lmgc.numpy as lnp  # noqa: E402
import lmgc.torch as lt  # noqa: E402

TORCH_DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64,
                torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool]


def sample(dtype, shape=(6, 10), seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=g).bool()
    if dtype.is_floating_point:
        t = (torch.randn(shape, generator=g, dtype=torch.float64) * 1e-2).to(dtype)
        flat = t.view(-1)
        special = torch.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan")])
        k = min(flat.numel(), 5)
        flat[:k] = special[:k]
        return t
    info = torch.iinfo(dtype)
    t = torch.randint(info.min, info.max, shape, generator=g, dtype=dtype)
    t.view(-1)[:2] = torch.tensor([info.min, info.max])
    return t


def bits(t):
    t = t.detach().resolve_neg().contiguous().cpu().reshape(-1)
    if t.dtype == torch.bool:
        return t.numpy().tobytes()
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and bits(a) == bits(b)


@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=str)
def test_dtype_round_trip_file(tmp_path, dtype):
    t = {"a": sample(dtype), "b": sample(dtype, (3,), seed=1)}
    lt.save_file(t, tmp_path / "t.lmgc")
    back = lt.load_file(tmp_path / "t.lmgc")
    assert list(back) == ["a", "b"] and all(same(t[k], back[k]) for k in t)


@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=str)
def test_dtype_round_trip_bytes(dtype):
    t = {"w": sample(dtype, (2, 3, 4))}
    data = lt.save(t)
    assert isinstance(data, bytes)
    back = lt.load(data)
    assert same(t["w"], back["w"])
    assert same(lmgc.decompress(lmgc.compress(t["w"])), t["w"])


def test_layouts_and_grad():
    base = sample(torch.float32, (8, 6))
    p = torch.nn.Parameter(sample(torch.float32, (3, 3)))
    t = {
        "transposed": base.t(),
        "sliced": base[::2, 1::3],
        "expanded": torch.ones(3, 1).expand(3, 4),
        "offset_view": base[3:5],
        "zero_size": torch.zeros(0, 4, dtype=torch.bfloat16),
        "scalar": torch.tensor(1.5, dtype=torch.float64),
        "scalar_bf16": torch.tensor(-3.0, dtype=torch.bfloat16),
        "param": p,
        "needs_grad": base * p.sum(),
        "neg_view": torch.randn(4)._neg_view() if hasattr(torch.Tensor, "_neg_view") else base,
    }
    back = lt.load(lt.save(t))
    for k, v in t.items():
        assert same(v, back[k]), k
        assert not back[k].requires_grad


def test_contiguous_tensor_is_not_copied():
    t = sample(torch.float32)
    entry = lt.tensor_entry("t", t)
    assert entry[3].__array_interface__["data"][0] == t.data_ptr()
    bf = sample(torch.bfloat16)
    assert lt.tensor_entry("b", bf)[3].__array_interface__["data"][0] == bf.data_ptr()


def test_load_decodes_into_the_tensors_it_returns():
    """No copy on load: each tensor is the one torch.empty made, which the library decoded
    into (not a view of another buffer)."""
    t = {"f": sample(torch.float32), "b": sample(torch.bfloat16), "i": sample(torch.int64)}
    for back in (lt.load(lt.save(t)), lt.load(lt.save(t, codec="store"))):
        for k, v in back.items():
            assert not v._is_view() and v.is_contiguous() and same(t[k], v), k


def test_npy_files_in_fortran_order_and_big_endian(tmp_path):
    """.lmgc files `lmgc compress` made of .npy files load into torch with their values."""
    a = np.asfortranarray(np.arange(15, dtype=np.float32).reshape(5, 3) / 7).astype(">f4")
    np.save(tmp_path / "a.npy", a)
    lmgc.compress_file(tmp_path / "a.npy")
    back = lt.load_file(tmp_path / "a.npy.lmgc")["array"]
    assert back.shape == (5, 3) and back.stride() == (1, 5)
    assert torch.equal(back, torch.from_numpy(a.astype("<f4")))
    assert torch.equal(lmgc.decompress(tmp_path / "a.npy.lmgc", framework="torch"), back)


def test_device_argument(tmp_path):
    t = {"a": sample(torch.float32)}
    lt.save_file(t, tmp_path / "d.lmgc")
    back = lt.load_file(tmp_path / "d.lmgc", device="cpu")
    assert back["a"].device.type == "cpu"
    assert lmgc.decompress(lmgc.compress(t["a"]), device="cpu").device.type == "cpu"


def test_numpy_and_torch_read_each_other(tmp_path):
    t = {"f": sample(torch.float32), "i": sample(torch.int64), "b": sample(torch.bool)}
    back = lnp.load(lt.save(t))
    for k in t:
        assert back[k].tobytes() == t[k].numpy().tobytes()
    a = {"u8": np.arange(5, dtype=np.uint8), "f16": np.ones((2, 2), np.float16)}
    back_t = lt.load(lnp.save(a))
    assert all(bits(torch.from_numpy(a[k])) == bits(back_t[k]) for k in a)
    with pytest.raises(lmgc.UnsupportedError, match="u16"):
        lt.load(lnp.save({"u": np.arange(3, dtype=np.uint16)}))


def assert_equal_objects(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and same(a, b) and a.stride() == b.stride()
    elif isinstance(a, dict):
        assert type(a) is type(b) and list(a) == list(b)
        for k in a:
            assert_equal_objects(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_equal_objects(x, y)
    else:
        assert a == b or (a != a and b != b)


def training_state():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.GroupNorm(2, 4),
                                torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 10))
    opt = torch.optim.Adam(model.parameters())
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(3, 1, 8, 8)).sum().backward()
        opt.step()
    return model, opt


def test_torch_save_objects(tmp_path):
    model, opt = training_state()
    base = torch.randn(5, 5)
    obj = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),  # int64 step tensors, nested dicts, lists
        "nested": [1, 2.5, "text", None, (base, base[1:3], base.t()), {"bf16": torch.ones(3, dtype=torch.bfloat16)}],
        "epoch": 7,
        "empty": torch.zeros(0),
    }
    path = tmp_path / "ckpt.pt.lmgc"
    lt.save(obj, path)
    back = lt.load(path)
    ref = torch.load(io.BytesIO(_torch_save_bytes(obj)))
    assert_equal_objects(ref, back)
    # views stay views of one storage
    t = back["nested"][4]
    assert t[1].storage().data_ptr() == t[0].storage().data_ptr()
    # `lmgc decompress` gives the exact torch.save file, which torch.load reads
    out = lmgc.decompress_file(path, tmp_path / "ckpt.pt")
    assert open(out, "rb").read() == _torch_save_bytes(obj)
    assert_equal_objects(ref, torch.load(out))
    assert lmgc.info(path)["source_format"] == "torch"


def _torch_save_bytes(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_torch_save_to_file_objects_and_modules(tmp_path):
    model, _ = training_state()
    buf = io.BytesIO()
    lt.save(model, buf)  # a whole nn.Module
    buf.seek(0)
    back = lt.load(buf)
    assert isinstance(back, torch.nn.Sequential)
    assert_equal_objects(model.state_dict(), back.state_dict())
    # no tensors at all
    lt.save({"just": "values", "n": [1, 2, 3]}, tmp_path / "plain.lmgc")
    assert lt.load(tmp_path / "plain.lmgc") == {"just": "values", "n": [1, 2, 3]}
    # torch.load arguments pass through
    sd = lt.load(open(tmp_path / "plain.lmgc", "rb"), map_location="cpu")
    assert sd["n"] == [1, 2, 3]


def test_save_dispatch():
    t = {"a": torch.ones(2)}
    assert lt.load(lt.save(t, {"m": "1"}))["a"].tolist() == [1.0, 1.0]
    _, meta = lnp.load(lt.save(t, metadata={"m": "1"}), return_metadata=True)
    assert meta == {"m": "1"}
    with pytest.raises(lmgc.UsageError):
        lt.save(t, {"m": "1"}, metadata={"m": "2"})
    with pytest.raises(lmgc.UsageError):
        lt.save({"a": [1, 2]})  # not tensors: safetensors-style save needs tensors
    with pytest.raises(lmgc.UsageError):
        lt.load(lt.save(t), weights_only=True)  # torch.load args on a tensors file


def test_one_tensor_returns_the_same_kind():
    t = sample(torch.bfloat16, (3, 7))
    back = lmgc.decompress(lmgc.compress(t))
    assert isinstance(back, torch.Tensor) and same(t, back)
    as_np = lmgc.decompress(lmgc.compress(sample(torch.float32)), framework="numpy")
    assert isinstance(as_np, np.ndarray)
    as_t = lmgc.decompress(lmgc.compress(np.arange(4, dtype=np.int32)), framework="torch")
    assert isinstance(as_t, torch.Tensor) and as_t.tolist() == [0, 1, 2, 3]


def test_gradient_state_dict_beats_torch_save_zstd(tmp_path):
    """A trained ConvNet's gradients: lmgc.torch.save is smaller than torch.save + zstd -19
    (the full-size check is examples/torch_save_size.py)."""
    import shutil
    import subprocess
    if shutil.which("zstd") is None:
        pytest.skip("no zstd")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(16 * 26 * 26, 10))
    x = torch.randn(16, 1, 28, 28)
    torch.nn.functional.cross_entropy(model(x), torch.randint(0, 10, (16,))).backward()
    grads = {k: p.grad for k, p in model.named_parameters()}
    torch.save(grads, tmp_path / "g.pt")
    subprocess.run(["zstd", "-q", "-19", "-f", str(tmp_path / "g.pt")], check=True)
    lt.save(grads, tmp_path / "g.pt.lmgc")
    assert os.path.getsize(tmp_path / "g.pt.lmgc") < os.path.getsize(tmp_path / "g.pt.zst")
    back = lt.load(tmp_path / "g.pt.lmgc")
    assert all(same(grads[k], back[k]) for k in grads)


def test_decompress_into_out_tensor():
    """out=: into a CPU tensor (bfloat16 included), or a numpy uint16 array of bfloat16's
    raw bits; a non-contiguous or other-dtype tensor is refused untouched."""
    for dt in TORCH_DTYPES:
        t = sample(dt)
        out = torch.zeros_like(t)
        assert lmgc.decompress(lmgc.compress(t), out=out) is out and same(out, t)
    t = sample(torch.bfloat16)
    bits = np.zeros(tuple(t.shape), np.uint16)
    lmgc.decompress(lmgc.compress(t), out=bits)
    assert np.array_equal(bits, t.view(torch.int16).numpy().view(np.uint16))
    data = lmgc.compress(sample(torch.float32))
    for bad, what in [(torch.zeros(10, 6).t(), "C-contiguous"),
                      (torch.zeros(6, 10, dtype=torch.float64), "float64")]:
        before = bad.clone()
        with pytest.raises(lmgc.MismatchError, match=what):
            lmgc.decompress(data, out=bad)
        assert torch.equal(bad, before)
    with pytest.raises(lmgc.UsageError, match="device"):
        lmgc.decompress(data, out=torch.zeros(6, 10), device="cpu")
