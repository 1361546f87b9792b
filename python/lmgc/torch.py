"""lmgc for torch tensors, with the calls of safetensors.torch (save_file / load_file /
save / load) and of torch.save / torch.load, plus a lossless DDP communication hook.
Needs torch (and numpy, which Debian's python3-torch depends on).

``save`` and ``load`` serve both APIs:

    lmgc.torch.save(tensors)            -> bytes   (safetensors.torch.save; dict of tensors)
    lmgc.torch.save(tensors, metadata)  -> bytes   (metadata: a dict of str to str)
    lmgc.torch.save(obj, f)                        (torch.save; f a path or binary file)
    lmgc.torch.load(data_or_f, ...)                returns what was saved: the object for
                                                   torch.save files, else a dict of tensors

Tensors are coded on the CPU: CUDA tensors are copied to the CPU first.
"""

import io
import os
import time

import numpy as np
import torch

from . import _core, _lmgc
from ._errors import UnsupportedError, UsageError

_TO_LMGC = {
    torch.float64: "f64", torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16",
    torch.int8: "i8", torch.uint8: "u8", torch.int16: "i16", torch.int32: "i32",
    torch.int64: "i64", torch.bool: "bool",
}
for _name, _code in (("uint16", "u16"), ("uint32", "u32"), ("uint64", "u64")):
    if isinstance(getattr(torch, _name, None), torch.dtype):  # torch >= 2.3
        _TO_LMGC[getattr(torch, _name)] = _code
_FROM_LMGC = {v: k for k, v in _TO_LMGC.items()}

# The numpy dtype whose array carries each lmgc dtype's bytes into torch.from_numpy (which
# knows no bfloat16 and, before torch 2.3, no unsigned types but uint8) and out of
# Tensor.numpy(); torch's view(dtype) then gives the right type without a copy.
_NP_CARRIER = {
    "f64": np.float64, "f32": np.float32, "f16": np.float16, "bf16": np.int16, "i8": np.int8,
    "u8": np.uint8, "i16": np.int16, "u16": np.int16, "i32": np.int32, "u32": np.int32,
    "i64": np.int64, "u64": np.int64, "bool": np.bool_,
}
_SIGNED = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def tensor_entry(name, t):
    """(name, lmgc dtype, shape, buffer) for the extension: a numpy view of the tensor's
    memory (no copy) when it is a contiguous CPU tensor; otherwise a contiguous CPU copy."""
    if not isinstance(t, torch.Tensor):
        raise UsageError(f"tensor '{name}': expected a torch.Tensor, not {type(t).__name__}")
    if t.layout != torch.strided or t.is_quantized:
        raise UnsupportedError(f"tensor '{name}': only dense tensors are supported "
                               f"(layout {t.layout})")
    code = _TO_LMGC.get(t.dtype)
    if code is None:
        raise UnsupportedError(f"tensor '{name}': dtype {t.dtype} has no safetensors dtype")
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.resolve_neg().contiguous()
    carrier = t
    if code in ("bf16", "u16", "u32", "u64"):
        carrier = t.view(_SIGNED[t.element_size()])
    return (name, code, tuple(t.shape), carrier.numpy())


def allocate(name, code, shape, fortran_order, big_endian):
    """The decoding allocator (see _core.decode_tensors): an uninitialized CPU tensor that the
    library decodes into (Fortran strides for .npy files stored that way; values arrive
    little-endian), and a numpy view of its memory for the extension to write through."""
    dt = _FROM_LMGC.get(code)
    if dt is None:
        raise UnsupportedError(f"tensor '{name}' is {code}, which torch {torch.__version__} has "
                               "no dtype for: use lmgc.numpy")
    if fortran_order:
        strides, n = [], 1
        for d in shape:
            strides.append(n)
            n *= max(d, 1)
        t = torch.empty_strided(shape, strides, dtype=dt)
    else:
        t = torch.empty(shape, dtype=dt)
    return t, numpy_carrier(t, code)


def numpy_carrier(t, code):
    """A numpy view of t's memory for the extension to write through: numpy has no bfloat16
    and torch no numpy view of its unsigned types, so those go through the signed type of
    their size."""
    carrier = t.view(_SIGNED[t.element_size()]) if code in ("bf16", "u16", "u32", "u64") else t
    return carrier.numpy()


def tensor_from_entry(entry, device=None):
    """The torch tensor of a decoded tensor: the tensor allocate made, or the numpy array
    lmgc.numpy.allocate made wrapped by torch.from_numpy (no copy on the CPU either way)."""
    name, code, shape, fortran_order, big_endian, obj = entry
    if isinstance(obj, torch.Tensor):
        t = obj
    else:
        dt = _FROM_LMGC.get(code)
        if dt is None:
            raise UnsupportedError(f"tensor '{name}' is {code}, which torch {torch.__version__} "
                                   "has no dtype for: use lmgc.numpy")
        t = torch.from_numpy(obj.view(_NP_CARRIER[code]))
        if t.dtype != dt:
            t = t.view(dt)
    if device is not None and torch.device(device).type != "cpu":
        t = t.to(device)
    return t


def _entries(tensors, what):
    _core.tensor_dict_arg(tensors, what)
    return [tensor_entry(k, v) for k, v in tensors.items()]


def save_file(tensors, filename, metadata=None, *, codec=None, level=None, threads=0,
              chunk_bytes=0, options=None, verify=False, progress=None):
    """Compresses a dict of str to tensors into filename (replaced atomically if it exists).
    Returns the sizes and time as a dict. ``lmgc decompress`` turns the file into a
    .safetensors file."""
    args = _core.coding_args(codec, level, threads, chunk_bytes, options, verify, progress)
    path = _core.path_arg("filename", filename)
    return _lmgc.compress_tensors(_entries(tensors, "save_file"), metadata, *args, path, True)


def load_file(filename, device="cpu", *, threads=0, options=None, progress=None,
              return_metadata=False):
    """Decompresses a .lmgc file of named tensors into a dict of str to tensors on device
    (in file order). With return_metadata, returns (dict, metadata)."""
    entries, metadata, _ = _core.decode_tensors(_core.path_arg("filename", filename), threads,
                                                options, progress, allocate)
    out = {e[0]: tensor_from_entry(e, device) for e in entries}
    return (out, metadata) if return_metadata else out


def save(obj, f=None, metadata=None, *, codec=None, level=None, threads=0, chunk_bytes=0,
         options=None, verify=False, progress=None, pickle_protocol=2):
    """Two calls in one (see the module doc):

    save(tensors, metadata=None) -> bytes: a dict of str to tensors, like
    safetensors.torch.save.

    save(obj, f): anything torch.save takes (state dicts, optimizer states, nested
    containers, modules) into f, a path (replaced atomically) or a binary file object.
    The torch.save image is compressed: tensors coded, the rest stored exactly, so
    lmgc.torch.load (or torch.load of the ``lmgc decompress``-ed file) gives equal objects.
    Returns the sizes and time as a dict."""
    args = _core.coding_args(codec, level, threads, chunk_bytes, options, verify, progress)
    if f is None or isinstance(f, dict):
        if isinstance(f, dict):
            if metadata is not None:
                raise UsageError("save(tensors, metadata): metadata given twice")
            metadata = f
        return _lmgc.compress_tensors(_entries(obj, "save"), metadata, *args, None, False)
    if metadata is not None:
        raise UsageError("metadata is for save(tensors, metadata) -> bytes; torch.save "
                         "files keep everything in the object")
    buf = io.BytesIO()
    torch.save(obj, buf, pickle_protocol=pickle_protocol)
    image = buf.getbuffer()
    try:
        if isinstance(f, (str, os.PathLike)):
            return _lmgc.compress_image(image, "torch", *args, _core.path_arg("f", f), True)
        if not hasattr(f, "write"):
            raise UsageError(f"f must be a path or a binary file object, not {type(f).__name__}")
        stats = {}
        data = _lmgc.compress_image(image, "torch", *args, None, False)
        f.write(data)
        stats["output_bytes"] = len(data)
        return stats
    finally:
        image.release()


def load(f, map_location=None, *, device=None, threads=0, options=None, progress=None,
         **torch_load_args):
    """Loads what save / save_file wrote. f: .lmgc bytes, a path or a binary file object.

    For a torch.save file: decompresses it and returns torch.load(..., map_location,
    **torch_load_args). For a file of named tensors: a dict of str to tensors on device
    (or map_location when it names a device)."""
    data = _core.data_arg(f)
    source = _lmgc.info(data)["source_format"]
    if source == "torch":
        raw = _lmgc.decompress_image(data, _core.int_arg("threads", threads), options,
                                     _core.callback_arg(progress))
        if map_location is None:
            map_location = device
        return torch.load(io.BytesIO(raw), map_location=map_location, **torch_load_args)
    if torch_load_args:
        raise UsageError(f"{sorted(torch_load_args)}: torch.load arguments, but this file "
                         "holds named tensors, not a torch.save file")
    if device is None and isinstance(map_location, (str, torch.device)):
        device = map_location
    entries, _, _ = _core.decode_tensors(data, threads, options, progress, allocate)
    return {e[0]: tensor_from_entry(e, device) for e in entries}


# ---------------------------------------------------------------------------------------
# DDP communication hook

def _make_hook(name, encode, decode, process_group, max_stats):
    """A DDP hook that all-gathers each rank's encoded bucket (sizes first, then the bytes
    padded to the largest) and sums the decoded buckets in rank order, so every rank holds
    the same bits; the result is divided by the world size (the mean, like the default
    allreduce hook). hook.stats gets one dict per bucket and step (the last max_stats)."""
    import torch.distributed as dist

    def hook(state, bucket):
        group = state if state is not None else process_group
        if group is None:
            group = dist.group.WORLD
        world = dist.get_world_size(group)
        rank = dist.get_rank(group)
        grad = bucket.buffer()
        flat = grad.detach()
        if flat.device.type != "cpu":
            flat = flat.cpu()
        t0, c0 = time.perf_counter(), time.process_time()
        payload = encode(flat)
        t1, c1 = time.perf_counter(), time.process_time()
        n = len(payload)
        sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(world)]
        dist.all_gather(sizes, torch.tensor([n], dtype=torch.int64), group=group)
        sizes = [int(s.item()) for s in sizes]
        m = max(sizes)
        send = torch.empty(m, dtype=torch.uint8)
        send_view = send.numpy()
        send_view[:n] = np.frombuffer(payload, dtype=np.uint8)
        send_view[n:] = 0  # the padding: sent, never read
        recv = [torch.empty(m, dtype=torch.uint8) for _ in range(world)]
        dist.all_gather(recv, send, group=group)
        t2, c2 = time.perf_counter(), time.process_time()
        # The sum in rank order, accumulated in place: into the first rank's decoded bucket,
        # or on rank 0 into its own (already coded, and overwritten by the result anyway).
        total = None
        for r in range(world):
            x = flat if r == rank else decode(recv[r].numpy()[: sizes[r]], flat)
            total = x if total is None else total.add_(x)
        total.div_(world)
        t3, c3 = time.perf_counter(), time.process_time()
        if total.data_ptr() != grad.data_ptr():
            grad.copy_(total)
        hook.stats.append({
            "bucket": bucket.index(), "world": world, "raw_bytes": flat.numel() * flat.element_size(),
            "coded_bytes": n, "sizes": sizes, "max_coded_bytes": m,
            "encode_s": t1 - t0, "decode_s": t3 - t2, "comm_s": t2 - t1,
            # CPU seconds of the process (all its threads) while coding: the work itself,
            # whatever else the machine runs
            "encode_cpu_s": c1 - c0, "decode_cpu_s": c3 - c2,
        })
        if len(hook.stats) > max_stats:
            del hook.stats[: len(hook.stats) - max_stats]
        fut = torch.futures.Future()
        fut.set_result(grad)
        return fut

    hook.__name__ = hook.__qualname__ = name
    hook.stats = []
    return hook


# The DDP hook's codec when neither codec nor level is given: it runs at every training
# step, so it takes level 1's codec, planes (about 1 GB/s per core in float32), rather than
# the default level's codec (cm, tens of MB/s), which costs more time than it saves on any
# but slow links, or fast, which codes ~1 point smaller but ~1.3x slower in the hook
# (docs/python.md). DDP_DEFAULT_OPTIONS are added to options= (none for planes).
DDP_DEFAULT_CODEC = "planes"
DDP_DEFAULT_OPTIONS = {}


def ddp_comm_hook(codec=None, threads=0, level=None, process_group=None, max_stats=10000,
                  options=None):
    """A LOSSLESS DDP communication hook: model.register_comm_hook(None, hook).

    Each rank codes its gradient bucket with lmgc, all-gathers the sizes, then the coded
    bytes (uint8 tensors padded to the largest), decodes the other ranks' buckets and sums
    all of them in rank order, so every rank holds identical bits, equal to those of
    ddp_allgather_hook(); the future returns the sum divided by the world size.

    codec: a name from lmgc.codecs(); None = DDP_DEFAULT_CODEC ("planes", level 1's float
    coder, about 1 GB/s per core in float32), unless level is given. level: 1..9, picks the
    codec and its settings as in lmgc.compress (5 = cm, the library's default: ~2 points
    smaller, ~20x slower) when codec is None; with codec named it is only recorded. options: the codec's settings, e.g.
    {"level": 1} for zstd. threads: 0 = all cores. hook.codec says what was picked.

    Wire bytes per rank and bucket: (n-1) x the largest coded bucket, against
    2 (n-1)/n x the bucket for a ring allreduce: with n >= 3 the hook sends less only when
    the coded bucket is under 2/n of the raw one (docs/python.md has measured numbers).
    ``hook.stats`` keeps one dict per bucket and step (sizes, coding and comm seconds), the
    last max_stats of them."""
    if not codec and level is None:
        codec = DDP_DEFAULT_CODEC
        if options is None or isinstance(options, dict):
            options = {**DDP_DEFAULT_OPTIONS, **(options or {})}
    args = _core.coding_args(codec, level, threads, 0, options, False, None)

    def encode(flat):
        return _lmgc.compress_tensors([tensor_entry("bucket", flat)], None, *args, None, False)

    def decode(data, like):
        entries, _, _ = _lmgc.decompress_tensors(data, args[2], None, None, allocate)
        t = tensor_from_entry(entries[0])
        if t.dtype != like.dtype or t.shape != like.shape:
            from ._errors import MismatchError
            raise MismatchError(f"a rank sent a {t.dtype} bucket of shape {tuple(t.shape)}, "
                                f"this rank has {like.dtype} {tuple(like.shape)}")
        return t

    hook = _make_hook("lmgc_lossless_hook", encode, decode, process_group, max_stats)
    hook.codec = codec if codec else f"level {level}"
    return hook


def ddp_allgather_hook(process_group=None, max_stats=10000):
    """The reference for ddp_comm_hook: the same all-gather and rank-order sum of the raw
    buckets, without coding. Both give identical bits."""

    def encode(flat):
        return flat.contiguous().view(torch.uint8).numpy().tobytes() if flat.numel() else b""

    def decode(data, like):
        out = torch.empty_like(like)
        out.view(torch.uint8).numpy()[:] = data
        return out

    return _make_hook("lmgc_allgather_hook", encode, decode, process_group, max_stats)
