# Errors: one exception class per lmgc::errc category, all lmgc.Error, with the library's
# one-line message; bad input never crashes the interpreter.
import os

import numpy as np
import pytest

import lmgc
import lmgc.numpy as lnp
from lmgc import _lmgc

CLASSES = [
    (1, lmgc.FileError, OSError), (2, lmgc.BadInputError, ValueError),
    (3, lmgc.CorruptError, None), (4, lmgc.UnsupportedError, None),
    (5, lmgc.UsageError, ValueError), (6, lmgc.MismatchError, None),
    (7, lmgc.InternalError, RuntimeError),
]


@pytest.mark.parametrize("code,cls,builtin", CLASSES, ids=lambda x: getattr(x, "__name__", x))
def test_each_category_has_its_class(code, cls, builtin):
    with pytest.raises(cls) as e:
        _lmgc._raise(code, "the message")
    assert isinstance(e.value, lmgc.Error) and e.value.code == code
    assert str(e.value) == "the message"
    if builtin is not None:
        assert isinstance(e.value, builtin)
    assert type(e.value) is cls


def valid_file():
    return lnp.save({"a": np.linspace(-1, 1, 4000, dtype=np.float32), "b": np.arange(100)})


def one_line(e):
    s = str(e.value)
    assert s and "\n" not in s
    return s


def test_missing_file_is_file_error(tmp_path):
    with pytest.raises(lmgc.FileError) as e:
        lnp.load_file(tmp_path / "missing.lmgc")
    assert isinstance(e.value, OSError) and "missing.lmgc" in one_line(e)
    with pytest.raises(lmgc.FileError):
        lmgc.info(str(tmp_path / "missing.lmgc"))
    with pytest.raises(lmgc.FileError):
        lnp.save_file({"a": np.zeros(3)}, tmp_path / "no" / "such" / "dir.lmgc")


def test_garbage_truncated_and_damaged_files_are_corrupt():
    data = valid_file()
    for bad in (b"", b"hello world, not an lmgc file", data[:20], data[: len(data) // 2],
                data[:-1]):
        with pytest.raises(lmgc.CorruptError) as e:
            lnp.load(bad)
        one_line(e)
    damaged = bytearray(data)
    damaged[len(data) - 50] ^= 0x10
    with pytest.raises(lmgc.CorruptError):
        lnp.load(bytes(damaged))


def test_random_damage_never_crashes():
    data = valid_file()
    want = lnp.load(data)
    rng = np.random.default_rng(1)
    for i in range(300):
        d = bytearray(data)
        for _ in range(rng.integers(1, 4)):
            d[rng.integers(0, len(d))] ^= 1 << int(rng.integers(0, 8))
        if i % 3 == 0:
            d = d[: rng.integers(0, len(d))]
        try:
            got = lnp.load(bytes(d))
        except lmgc.Error as e:
            assert "\n" not in str(e)
        else:  # only possible if the flipped bits were not used: then the data is right
            assert list(got) == list(want)
            assert all(got[k].tobytes() == want[k].tobytes() for k in want)


def test_bad_arguments_are_usage_errors(tmp_path):
    a = {"a": np.zeros(4, np.float32)}
    cases = [
        lambda: lnp.save(a, codec="no-such-codec"),
        lambda: lnp.save(a, threads=-1),
        lambda: lnp.save(a, level=10),
        lambda: lnp.save(a, level=0),
        lambda: lnp.save(a, chunk_bytes=-5),
        lambda: lnp.save(a, verify="yes"),
        lambda: lnp.save(a, codec="store", options={"level": 3}),  # store has no settings
        lambda: lnp.save(a, options={"no_such_setting": 1}),
        lambda: lmgc.compress_file(tmp_path / "x.npy", format="zip"),
        lambda: lnp.save(a, progress=42),
        lambda: lnp.save([np.zeros(3)]),
        lambda: lnp.save({1: np.zeros(3)}),
        lambda: lnp.save({"a": [1.0, 2.0]}),
        lambda: lnp.save({"__metadata__": np.zeros(3)}),
        lambda: lnp.save(a, metadata={"k": 1}),
        lambda: lnp.save(a, metadata=["k"]),
        lambda: lnp.load_file(42),
        lambda: lnp.load("a path is not bytes"),
        lambda: lmgc.compress([1, 2, 3]),
        lambda: lmgc.decompress(lnp.save(a), framework="jax"),
        lambda: lmgc.decompress_file(tmp_path / "x.bin"),
    ]
    for f in cases:
        with pytest.raises(lmgc.UsageError) as e:
            f()
        assert isinstance(e.value, ValueError)
        one_line(e)


def test_unsupported_types():
    with pytest.raises(lmgc.UnsupportedError, match="complex64"):
        lnp.save({"c": np.zeros(3, np.complex64)})
    with pytest.raises(lmgc.UnsupportedError):
        lnp.save({"o": np.array([object()])})


def test_existing_output_is_file_error(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(10, np.float32))
    lmgc.compress_file(tmp_path / "a.npy")
    with pytest.raises(lmgc.FileError, match="overwrite=True"):
        lmgc.compress_file(tmp_path / "a.npy")
    lmgc.compress_file(tmp_path / "a.npy", overwrite=True)
    with pytest.raises(lmgc.FileError):
        lmgc.decompress_file(tmp_path / "a.npy.lmgc")  # a.npy exists
    # save_file replaces, like safetensors and torch.save
    lnp.save_file({"a": np.zeros(2)}, tmp_path / "s.lmgc")
    lnp.save_file({"a": np.ones(2)}, tmp_path / "s.lmgc")
    assert lnp.load_file(tmp_path / "s.lmgc")["a"].tolist() == [1.0, 1.0]


def test_bad_tensor_files_are_bad_input(tmp_path):
    p = tmp_path / "bad.npy"
    p.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'")
    with pytest.raises(lmgc.BadInputError) as e:
        lmgc.compress_file(p)
    one_line(e)
    assert not os.path.exists(str(p) + ".lmgc")
    q = tmp_path / "legacy.pt"
    q.write_bytes(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.")
    with pytest.raises(lmgc.Error):
        lmgc.compress_file(q, format="torch")


def test_torch_file_is_refused_by_the_tensor_loaders(tmp_path):
    torch = pytest.importorskip("torch")
    import lmgc.torch as lt
    lt.save({"step": 3, "w": torch.ones(2)}, tmp_path / "o.lmgc")
    with pytest.raises(lmgc.UnsupportedError, match="lmgc.torch.load"):
        lnp.load_file(tmp_path / "o.lmgc")
    with pytest.raises(lmgc.UnsupportedError):
        lt.load_file(tmp_path / "o.lmgc")
