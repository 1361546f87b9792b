"""lmgc for numpy arrays, with the calls of safetensors.numpy: save_file / load_file /
save / load. Needs numpy only.

numpy has no bfloat16: load_file / load refuse BF16 tensors unless told what to return
(``bf16="uint16"``: the raw bits; ``bf16="float32"``: widened exactly). Arrays whose dtype
is ml_dtypes' bfloat16 are saved as BF16.
"""

import numpy as np

from . import _core, _lmgc
from ._errors import UnsupportedError, UsageError

_TO_LMGC = {
    np.dtype(np.float64): "f64", np.dtype(np.float32): "f32", np.dtype(np.float16): "f16",
    np.dtype(np.int8): "i8", np.dtype(np.uint8): "u8", np.dtype(np.int16): "i16",
    np.dtype(np.uint16): "u16", np.dtype(np.int32): "i32", np.dtype(np.uint32): "u32",
    np.dtype(np.int64): "i64", np.dtype(np.uint64): "u64", np.dtype(np.bool_): "bool",
}
_FROM_LMGC = {v: k for k, v in _TO_LMGC.items()}
# The dtype decoded tensors are allocated with.
_CARRIER = dict(_FROM_LMGC, bf16=np.dtype(np.uint16))

_BF16_CHOICES = ("error", "uint16", "float32")


def tensor_entry(name, x):
    """(name, lmgc dtype, shape, buffer) for the extension. A C-contiguous array is passed
    as is (no copy); others are made contiguous; big-endian ones little-endian."""
    if isinstance(x, np.generic):
        x = np.asarray(x)
    if not isinstance(x, np.ndarray):
        raise UsageError(f"tensor '{name}': expected a numpy.ndarray, not {type(x).__name__}")
    dt = x.dtype
    if dt.name == "bfloat16" and dt.itemsize == 2:  # ml_dtypes.bfloat16
        code = "bf16"
        x = np.ascontiguousarray(x).view(np.uint16)
    else:
        if dt.byteorder == ">":
            dt = dt.newbyteorder("<")
            x = x.astype(dt)
        code = _TO_LMGC.get(dt)
        if code is None:
            raise UnsupportedError(f"tensor '{name}': numpy dtype {dt} has no safetensors "
                                   "dtype (F64 F32 F16 BF16 I8..I64 U8..U64 BOOL)")
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    return (name, code, x.shape, x)


def allocate(name, code, shape, fortran_order, big_endian):
    """The decoding allocator (see _core.decode_tensors): an uninitialized array of the
    tensor's shape that the library decodes into, in Fortran order for .npy files stored
    that way. bfloat16 gets uint16 (numpy has none); values arrive little-endian."""
    a = np.empty(shape, _CARRIER[code], order="F" if fortran_order else "C")
    return a, a


def _allocator(bf16):
    """allocate, refusing bfloat16 before anything is decoded unless bf16 says what to do."""
    if bf16 not in _BF16_CHOICES:
        raise UsageError(f"bf16 must be one of {_BF16_CHOICES}, not {bf16!r}")
    if bf16 != "error":
        return allocate

    def allocate_no_bf16(name, code, shape, fortran_order, big_endian):
        if code == "bf16":
            raise _bf16_error(name)
        return allocate(name, code, shape, fortran_order, big_endian)
    return allocate_no_bf16


def _bf16_error(name):
    return UnsupportedError(
        f"tensor '{name}' is bfloat16, which numpy has no dtype for: pass bf16='uint16' for "
        "the raw bits or bf16='float32' to widen it exactly, or use lmgc.torch")


def array_from_entry(entry, bf16="error"):
    """The numpy array of a decoded tensor: the array allocate made (no copy), with the byte
    order of the original file for big-endian .npy files (swapped in place)."""
    name, code, shape, fortran_order, big_endian, a = entry
    if code == "bf16":
        if bf16 not in _BF16_CHOICES:
            raise UsageError(f"bf16 must be one of {_BF16_CHOICES}, not {bf16!r}")
        if bf16 == "error":
            raise _bf16_error(name)
    if big_endian:
        a = a.byteswap(inplace=True).view(a.dtype.newbyteorder(">"))
    if code == "bf16" and bf16 == "float32":
        a = (a.astype(np.uint32) << 16).view(np.float32)
    return a


def _entries(tensors, what):
    _core.tensor_dict_arg(tensors, what)
    return [tensor_entry(k, v) for k, v in tensors.items()]


def save(tensors, metadata=None, *, codec=None, level=None, threads=0, chunk_bytes=0,
         options=None, verify=False, progress=None):
    """Compresses a dict of str to numpy arrays; returns the .lmgc bytes.
    metadata: dict of str to str (safetensors __metadata__). The arrays are read in place
    (C-contiguous ones are not copied) and must not change during the call."""
    args = _core.coding_args(codec, level, threads, chunk_bytes, options, verify, progress)
    return _lmgc.compress_tensors(_entries(tensors, "save"), metadata, *args, None, False)


def save_file(tensors, filename, metadata=None, *, codec=None, level=None, threads=0,
              chunk_bytes=0, options=None, verify=False, progress=None):
    """Compresses a dict of str to numpy arrays into filename (replaced if it exists,
    atomically). Returns the sizes and time as a dict. ``lmgc decompress`` turns the file
    into a .safetensors file."""
    args = _core.coding_args(codec, level, threads, chunk_bytes, options, verify, progress)
    path = _core.path_arg("filename", filename)
    return _lmgc.compress_tensors(_entries(tensors, "save_file"), metadata, *args, path, True)


def _load(data, threads, options, progress, bf16, return_metadata):
    entries, metadata, _ = _core.decode_tensors(data, threads, options, progress,
                                                _allocator(bf16))
    out = {e[0]: array_from_entry(e, bf16) for e in entries}
    return (out, metadata) if return_metadata else out


def load(data, *, threads=0, options=None, progress=None, bf16="error",
         return_metadata=False):
    """Decompresses .lmgc bytes into a dict of str to numpy arrays (in file order).
    With return_metadata, returns (dict, metadata)."""
    return _load(_core.bytes_arg(data, "load"), threads, options, progress, bf16,
                 return_metadata)


def load_file(filename, *, threads=0, options=None, progress=None, bf16="error",
              return_metadata=False):
    """Decompresses a .lmgc file into a dict of str to numpy arrays (in file order).
    Also reads .lmgc files of .npy (one array, "array") and .safetensors files made by
    ``lmgc compress``. With return_metadata, returns (dict, metadata)."""
    return _load(_core.path_arg("filename", filename), threads, options, progress, bf16,
                 return_metadata)
