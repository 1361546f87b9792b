# lmgc.torch.ddp_comm_hook in this process: which codec it picks (fast by default, codec= and
# level= overrides), what it returns, its stats. A one-rank gloo group (an in-memory store,
# no sockets); the multi-process checks are in test_examples.py.
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

import lmgc  # noqa: E402
import lmgc.torch as lt  # noqa: E402

if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)


class Bucket:
    """What the hook uses of dist.GradBucket."""

    def __init__(self, t, index=0):
        self._t = t
        self._i = index

    def buffer(self):
        return self._t

    def index(self):
        return self._i


@pytest.fixture(scope="module")
def group():
    if dist.is_initialized():
        pytest.skip("a process group is already initialized in this process")
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield dist.group.WORLD
    dist.destroy_process_group()


@pytest.fixture
def payloads(monkeypatch):
    """The bytes the hook codes, seen on their way out of the extension."""
    seen = []
    real = lt._lmgc.compress_tensors

    def spy(*args):
        out = real(*args)
        seen.append(bytes(out))
        return out

    monkeypatch.setattr(lt._lmgc, "compress_tensors", spy)
    return seen


def gradient(n=50000, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(n, generator=g) * 1e-3
    t[torch.rand(n, generator=g) < 0.3] = 0.0
    return t.to(dtype)


def run_hook(hook, t):
    bucket = Bucket(t.clone())
    before = t.clone()
    out = hook(None, bucket).wait()
    # one rank: the mean is the bucket itself, bit for bit
    assert out.dtype == before.dtype and out.shape == before.shape
    assert torch.equal(out.view(-1).view(torch.uint8), before.view(-1).view(torch.uint8))
    return hook.stats[-1]


def streams(data):
    return lmgc.info(data)["streams"]


@pytest.mark.parametrize("kwargs", [{}, {"codec": None}, {"codec": ""}, {"level": None}])
def test_default_codec_is_planes(group, payloads, kwargs):
    hook = lt.ddp_comm_hook(threads=1, **kwargs)
    assert lt.DDP_DEFAULT_CODEC == "planes"  # level 1 (docs/python.md: speed at every step)
    assert hook.codec == "planes"
    st = run_hook(hook, gradient())
    assert len(payloads) == 1
    assert [s["codec"] for s in streams(payloads[0])] == ["planes"]
    assert [s["codec_params"] for s in streams(payloads[0])] == [{}]
    assert st["coded_bytes"] == len(payloads[0])
    assert st["raw_bytes"] == 50000 * 4
    assert 0 < st["coded_bytes"] < st["raw_bytes"]


def test_options_go_to_the_codec(group, payloads):
    run_hook(lt.ddp_comm_hook(threads=1, codec="fast", options={"lag_classes": 0}),
             gradient(20000, seed=3))
    (s,) = streams(payloads[0])
    assert s["codec"] == "fast" and s["codec_params"] == {"lag_classes": "0"}
    # planes, the default, has no settings: a setting for it is a usage error
    with pytest.raises(lmgc.UsageError):
        run_hook(lt.ddp_comm_hook(threads=1, options={"lag_classes": 1}), gradient(2000))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_default_codec_other_float_buckets(group, payloads, dtype):
    run_hook(lt.ddp_comm_hook(threads=1), gradient(4000, seed=1, dtype=dtype))
    assert [s["codec"] for s in streams(payloads[0])] == ["planes"]


@pytest.mark.parametrize("kwargs, codec, params", [
    ({"level": 5}, "cm", None),                       # the library's default level
    ({"level": 1}, "planes", None),                   # docs/levels.md: planes
    ({"level": 2}, "fast", {"lag_classes": "0"}),     # fast, no lag classes
    ({"level": 3}, "fast", {}),
    ({"level": 6}, "cm", {"mantissa_bits": "2"}),
    ({"codec": "zstd", "options": {"level": 1}}, "zstd", {"level": "1"}),
    ({"codec": "cm"}, "cm", None),
    ({"codec": "store"}, "store", None),
])
def test_codec_and_level_override_the_default(group, payloads, kwargs, codec, params):
    hook = lt.ddp_comm_hook(threads=1, **kwargs)
    assert hook.codec == kwargs.get("codec", f"level {kwargs.get('level')}")
    run_hook(hook, gradient(20000, seed=2))
    (s,) = streams(payloads[0])
    assert s["codec"] == codec
    if params is not None:
        assert s["codec_params"] == params


def test_default_is_faster_than_cm(group):
    """The reason for the default: planes codes a bucket many times faster than cm (a
    loose bound on a shared machine; measured ~16x in docs/python.md)."""
    t = gradient(400000, seed=3)
    default = lt.ddp_comm_hook(threads=1)
    cm = lt.ddp_comm_hook(threads=1, level=5)
    best = {}
    for name, hook in (("default", default), ("cm", cm), ("default", default)):
        st = run_hook(hook, t)
        best[name] = min(best.get(name, 1e9), st["encode_cpu_s"] + st["decode_cpu_s"]
                         + 1e-9)
    assert best["default"] * 5 < best["cm"], best


def test_several_buckets_and_stats(group):
    hook = lt.ddp_comm_hook(threads=1, max_stats=3)
    for i in range(5):
        run_hook(hook, gradient(1000 + i, seed=i))
    assert len(hook.stats) == 3
    assert [s["raw_bytes"] for s in hook.stats] == [4 * (1000 + i) for i in (2, 3, 4)]
    for s in hook.stats:
        assert s["world"] == 1 and s["sizes"] == [s["coded_bytes"]]


def test_bad_arguments(group):
    with pytest.raises(lmgc.UsageError):
        lt.ddp_comm_hook(level=0)
    with pytest.raises(lmgc.UsageError):
        lt.ddp_comm_hook(codec=7)
    with pytest.raises(lmgc.UsageError):
        lt.ddp_comm_hook(threads=-1)
    # fast has no setting "level": refused when the first bucket is coded
    hook = lt.ddp_comm_hook(options={"level": 3})
    with pytest.raises(lmgc.UsageError):
        hook(None, Bucket(gradient(100)))
    # an unknown codec, likewise
    hook = lt.ddp_comm_hook(codec="no-such-codec")
    with pytest.raises(lmgc.UsageError):
        hook(None, Bucket(gradient(100)))
