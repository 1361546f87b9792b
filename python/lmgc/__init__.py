"""lmgc: lossless compression of neural-network gradients and other float tensors.

    import lmgc
    data = lmgc.compress(array_or_tensor)       # bytes of a .lmgc file
    x = lmgc.decompress(data)                   # the same dtype, shape and bits

    from lmgc.numpy import save_file, load_file # like safetensors.numpy
    from lmgc.torch import save_file, load_file # like safetensors.torch
    lmgc.torch.save(obj, "ckpt.pt.lmgc")        # anything torch.save takes
    obj = lmgc.torch.load("ckpt.pt.lmgc")

``lmgc.numpy`` needs numpy only; ``lmgc.torch`` needs torch. See docs/python.md.
"""

import importlib as _importlib

from . import _lmgc
from ._core import codecs, compress, compress_file, decompress, decompress_file, info
from ._errors import (BadInputError, CorruptError, Error, FileError, InternalError,
                      MismatchError, UnsupportedError, UsageError)

__version__ = _lmgc.version()

__all__ = [
    "compress", "decompress", "compress_file", "decompress_file", "info", "codecs",
    "Error", "FileError", "BadInputError", "CorruptError", "UnsupportedError", "UsageError",
    "MismatchError", "InternalError", "numpy", "torch", "__version__",
]


def __getattr__(name):
    # lmgc.numpy and lmgc.torch are imported on first use, so `import lmgc` needs neither.
    if name in ("numpy", "torch"):
        return _importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'lmgc' has no attribute '{name}'")
