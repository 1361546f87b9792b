"""The exceptions of lmgc: one class per error category of the C++ library (lmgc::errc).

Every class derives from lmgc.Error and carries the library's one-line message; some also
derive from the matching builtin, so ``except OSError`` or ``except ValueError`` catch them.
"""

from . import _lmgc


class Error(Exception):
    """Base class of every error lmgc raises. ``code`` is the lmgc::errc value."""

    code = 0
    category = "error"


class FileError(Error, OSError):
    """A file could not be read or written (errc::io)."""

    code = 1
    category = "io"


class BadInputError(Error, ValueError):
    """Malformed input: a tensor file lmgc cannot parse (errc::bad_input)."""

    code = 2
    category = "bad_input"


class CorruptError(Error):
    """A .lmgc file failed a check: magic, checksum, truncation (errc::corrupt)."""

    code = 3
    category = "corrupt"


class UnsupportedError(Error):
    """Valid, but not supported here: a newer format, a codec not built in, a dtype the
    target framework lacks (errc::unsupported)."""

    code = 4
    category = "unsupported"


class UsageError(Error, ValueError):
    """Invalid arguments: unknown codec, bad option, wrong argument type (errc::usage)."""

    code = 5
    category = "usage"


class MismatchError(Error):
    """Decoding needs something other than what was given: a model, a dtype
    (errc::mismatch)."""

    code = 6
    category = "mismatch"


class InternalError(Error, RuntimeError):
    """A bug in lmgc: an invariant failed (errc::internal). Please report it."""

    code = 7
    category = "internal"


# Index = errc value; the extension raises these for lmgc::error.
_BY_CODE = (Error, FileError, BadInputError, CorruptError, UnsupportedError, UsageError,
            MismatchError, InternalError)
_lmgc._register_errors(_BY_CODE)
