"""What lmgc.numpy and lmgc.torch share: argument checks, the one-tensor calls
(compress / decompress), whole files (compress_file / decompress_file), info and codecs."""

import os
import sys

from . import _lmgc
from ._errors import MismatchError, UnsupportedError, UsageError

# The key of the safetensors __metadata__ entry that lmgc.compress writes, so that
# lmgc.decompress gives back the same kind of object (numpy array or torch tensor).
FRAMEWORK_KEY = "lmgc.framework"


def coding_args(codec, level, threads, chunk_bytes, options, verify, progress):
    """Checks the common keyword arguments; returns them in the extension's order."""
    if codec is None:
        codec = ""
    if not isinstance(codec, str):
        raise UsageError(f"codec must be a str or None, not {type(codec).__name__}")
    if level is None:
        level = 0
    elif isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 9:
        raise UsageError(f"level must be an int in 1..9 or None, not {level!r}")
    if not isinstance(verify, bool):
        raise UsageError(f"verify must be True or False, not {verify!r}")
    return codec, level, int_arg("threads", threads), int_arg("chunk_bytes", chunk_bytes), \
        options, verify, callback_arg(progress)


def int_arg(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{name} must be an int >= 0, not {value!r}")
    return value


def callback_arg(progress):
    if progress is not None and not callable(progress):
        raise UsageError("progress must be a callable (done, total) or None")
    return progress


def path_arg(name, value):
    try:
        p = os.fspath(value)
    except TypeError:
        raise UsageError(f"{name} must be a path (str or os.PathLike), "
                         f"not {type(value).__name__}") from None
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    return p


def data_arg(data):
    """.lmgc bytes (any buffer) or a path: returns what the extension takes (str = path)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return data
    if isinstance(data, (str, os.PathLike)):
        return path_arg("path", data)
    if hasattr(data, "read"):
        return data.read()
    try:
        memoryview(data)
    except TypeError:
        raise UsageError("expected .lmgc bytes, a path or a binary file object, "
                         f"not {type(data).__name__}") from None
    return data


def bytes_arg(data, what):
    """.lmgc bytes (any object with the buffer protocol); a path is refused."""
    if isinstance(data, (str, os.PathLike)):
        raise UsageError(f"{what} takes the bytes of a .lmgc file; for a path use {what}_file")
    try:
        memoryview(data)
    except TypeError:
        raise UsageError(f"{what} takes the bytes of a .lmgc file, "
                         f"not {type(data).__name__}") from None
    return data


def tensor_dict_arg(tensors, what):
    if not isinstance(tensors, dict):
        raise UsageError(f"{what} expects a dict of str to tensors, not {type(tensors).__name__}")
    for k in tensors:
        if not isinstance(k, str):
            raise UsageError(f"{what}: tensor names must be str, not {type(k).__name__}")
    return tensors


def framework_of(x):
    """'torch' for a torch.Tensor, 'numpy' for a numpy array or scalar, else None."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return "torch"
    np = sys.modules.get("numpy")
    if np is not None and isinstance(x, (np.ndarray, np.generic)):
        return "numpy"
    return None


def compress(x, *, codec=None, level=None, threads=0, chunk_bytes=0, options=None,
             verify=False, progress=None):
    """Compresses one numpy array or torch tensor; returns the bytes of a .lmgc file.

    ``lmgc.decompress`` gives back the same dtype, shape and bits, as the same kind of
    object. The file is a one-tensor safetensors file (tensor "tensor") when decompressed
    with the ``lmgc`` command. codec: see ``lmgc.codecs()`` (None = the level's codec);
    level: 1..9 or None (the default level); verify: decode each chunk again before writing
    it; threads: 0 = all cores; progress: called with (done, total)."""
    fw = framework_of(x)
    if fw == "torch":
        from . import torch as mod
    elif fw == "numpy":
        from . import numpy as mod
    else:
        raise UsageError(f"lmgc.compress expects a numpy array or a torch tensor, "
                         f"not {type(x).__name__}")
    entry = mod.tensor_entry("tensor", x)
    args = coding_args(codec, level, threads, chunk_bytes, options, verify, progress)
    return _lmgc.compress_tensors([entry], {FRAMEWORK_KEY: fw}, *args, None, False)


def decompress(data, *, framework=None, device=None, threads=0, options=None, progress=None,
               out=None):
    """Decompresses .lmgc bytes (or a path) holding one tensor; returns it with its dtype
    and shape.

    framework: "numpy" or "torch"; None = what was given to lmgc.compress (numpy for
    files made otherwise). device: for torch, where to put the tensor. out: a writeable
    numpy array or CPU torch tensor of the tensor's dtype (bfloat16: a torch.bfloat16 tensor
    or a numpy uint16 array of the raw bits) and shape, contiguous in the file's order, to
    decode into instead of a new one (e.g. a buffer kept across steps, or pinned memory);
    returned. A mismatch raises MismatchError before anything is written."""
    if out is not None:
        if framework is not None or device is not None:
            raise UsageError("out= decodes into the given array or tensor: no framework= or "
                             "device= with it")
        allocate = _allocator_into(out)
    else:
        if framework not in (None, "numpy", "torch"):
            raise UsageError(f"framework must be 'numpy' or 'torch', not {framework!r}")
        if framework == "numpy" and device not in (None, "cpu"):
            raise UsageError("device= needs framework='torch'")
        # Decoded into what the framework allocates; with framework=None, into numpy arrays,
        # which torch.from_numpy wraps without a copy if the file says torch.
        if framework == "torch":
            from . import torch as mod
        else:
            from . import numpy as mod
        allocate = mod.allocate
    tensors, metadata, _ = decode_tensors(data, threads, options, progress, allocate)
    if len(tensors) != 1:
        raise UsageError(f"this .lmgc file holds {len(tensors)} tensors; lmgc.decompress is for "
                         "one (use lmgc.numpy.load / lmgc.torch.load)")
    if out is not None:
        return out
    fw = framework or metadata.get(FRAMEWORK_KEY, "numpy")
    if fw == "torch":
        from . import torch as mod
        return mod.tensor_from_entry(tensors[0], device=device)
    if fw == "numpy":
        from . import numpy as mod
        if device not in (None, "cpu"):
            raise UsageError("device= needs framework='torch'")
        return mod.array_from_entry(tensors[0])
    raise UsageError(f"this file names the framework {fw!r}: pass framework='numpy' or 'torch'")


def _allocator_into(out):
    """An allocator (see decode_tensors) that hands out `out` for the one tensor, checked
    against it: dtype, shape, contiguity in the file's order, little-endian data."""
    import numpy as np
    if isinstance(out, np.ndarray):
        from . import numpy as mod
        if not out.flags.writeable:
            raise UsageError("out: the array is not writeable")
        dtypes = mod._CARRIER

        def numpy_view(code):
            return out
    elif "torch" in sys.modules and isinstance(out, sys.modules["torch"].Tensor):
        from . import torch as mod
        if out.device.type != "cpu" or out.layout != mod.torch.strided:
            raise UsageError(f"out: a dense CPU tensor is needed, not {out.device} {out.layout}")
        dtypes = mod._FROM_LMGC

        def numpy_view(code):
            return mod.numpy_carrier(out.detach(), code)
    else:
        raise UsageError(f"out must be a numpy.ndarray or a torch.Tensor, not {type(out).__name__}")
    taken = []

    def allocate(name, code, shape, fortran_order, big_endian):
        if taken:
            raise UsageError("out= takes one tensor; this file holds more")
        if dtypes.get(code) != out.dtype:
            raise MismatchError(f"out is {out.dtype}; tensor '{name}' is {code}")
        if tuple(out.shape) != tuple(shape):
            raise MismatchError(f"out has shape {tuple(out.shape)}; tensor '{name}' has "
                                f"{tuple(shape)}")
        if big_endian:
            raise UnsupportedError(f"tensor '{name}' comes from a big-endian .npy file: "
                                   "decompress it without out=")
        carrier = numpy_view(code)
        if not (carrier.flags.f_contiguous if fortran_order else carrier.flags.c_contiguous):
            raise MismatchError(f"out must be {'Fortran' if fortran_order else 'C'}-contiguous "
                                f"as tensor '{name}' is stored")
        taken.append(name)
        return out, carrier
    return allocate


def decode_tensors(data, threads, options, progress, allocate):
    """Decodes a .lmgc file of named tensors into the arrays or tensors allocate(name, dtype,
    shape, fortran_order, big_endian) -> (obj, buffer) makes: ([entry], metadata,
    source_format), an entry being (name, dtype, shape, fortran_order, big_endian, obj)."""
    data = data_arg(data)
    threads = int_arg("threads", threads)
    progress = callback_arg(progress)
    if isinstance(data, str):
        return _lmgc.decompress_tensors_file(data, threads, options, progress, allocate)
    return _lmgc.decompress_tensors(data, threads, options, progress, allocate)


def compress_file(in_path, out_path=None, *, format="auto", codec=None, level=None, threads=0,
                  chunk_bytes=0, options=None, verify=False, progress=None, overwrite=False):
    """Compresses a tensor file (.npy, .safetensors, torch.save .pt) into out_path
    (default: in_path + ".lmgc"), as ``lmgc compress`` does; ``lmgc decompress`` gives back
    the identical file. Returns the sizes and time as a dict."""
    in_path = path_arg("in_path", in_path)
    out_path = in_path + ".lmgc" if out_path is None else path_arg("out_path", out_path)
    check_overwrite(out_path, overwrite)
    return _lmgc.compress_file(in_path, out_path, format,
                               *coding_args(codec, level, threads, chunk_bytes, options, verify,
                                            progress),
                               overwrite)


def decompress_file(in_path, out_path=None, *, threads=0, options=None, progress=None,
                    overwrite=False):
    """Restores the original file of a .lmgc file, bit for bit; out_path defaults to in_path
    without ".lmgc". Returns out_path."""
    in_path = path_arg("in_path", in_path)
    if out_path is None:
        if not in_path.endswith(".lmgc"):
            raise UsageError(f"'{in_path}' does not end in .lmgc: give out_path")
        out_path = in_path[: -len(".lmgc")]
    out_path = path_arg("out_path", out_path)
    check_overwrite(out_path, overwrite)
    _lmgc.decompress_file(in_path, out_path, int_arg("threads", threads), options,
                          callback_arg(progress), overwrite)
    return out_path


def check_overwrite(path, overwrite):
    from ._errors import FileError
    if not overwrite and os.path.lexists(path):
        raise FileError(f"'{path}' already exists (pass overwrite=True to replace it)")


def info(data):
    """What ``lmgc info`` shows, as a dict (header only, nothing is decoded): format
    version, source format, sizes, streams (codec, dtype), tensors (name, dtype, shape).
    data: a path or .lmgc bytes."""
    return _lmgc.info(data_arg(data))


def codecs():
    """The codecs this build knows: a list of dicts (name, summary, available,
    why_missing, is_default)."""
    return _lmgc.codecs()
