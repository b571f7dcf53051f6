"""Exception and warning classes of attnscope.

Every error of the C++ core arrives as one of these, chosen by its kind; each also derives from
the built-in exception a Python user would try first, so ``except ValueError`` keeps working:

============================  =====================================  ==========================
class                         raised for                             also a
============================  =====================================  ==========================
``InvalidArgumentError``      a bad argument: layer, head, hook name ``ValueError``
``MalformedFileError``        a file that is malformed or truncated  ``ValueError``
``NotFoundError``             a file, tensor or hub repo not there   ``FileNotFoundError``
``UnsupportedError``          well-formed but not handled            ``NotImplementedError``
``AttnscopeIOError``          the operating system refused           ``OSError``
``NetworkError``              hub / HTTP failures                    ``ConnectionError``
============================  =====================================  ==========================

The command line exits with the matching code (``attnscope --help`` lists them).
"""


class AttnscopeError(Exception):
    """Base of every attnscope error; ``kind`` names the C++ ErrorKind."""

    kind = "Error"


class InvalidArgumentError(AttnscopeError, ValueError):
    kind = "InvalidArgument"


class MalformedFileError(AttnscopeError, ValueError):
    kind = "Format"


class NotFoundError(AttnscopeError, FileNotFoundError):
    kind = "NotFound"


class UnsupportedError(AttnscopeError, NotImplementedError):
    kind = "Unsupported"


class AttnscopeIOError(AttnscopeError, OSError):
    kind = "Io"


class NetworkError(AttnscopeError, ConnectionError):
    kind = "Network"


# The C++ translator (python/src/errors.cpp) looks classes up here by kind.
BY_KIND = {c.kind: c for c in (InvalidArgumentError, MalformedFileError, NotFoundError, UnsupportedError,
                               AttnscopeIOError, NetworkError)}


class NonFiniteAttentionWarning(RuntimeWarning):
    """Attention patterns (or scores computed from them) hold NaN or inf; names the heads."""


class TokenizationWarning(UserWarning):
    """The token ids are kept as they are, but something about them deserves a look (for
    example BOS twice at the start, which first-token scores and ``exclude_bos`` do not expect)."""


class ModelConfigWarning(UserWarning):
    """A checkpoint loads, but its files disagree (e.g. an untied output head that is missing)."""


def warning_category(key: str):
    """The warning class of a C++ warning key (include/attnscope/warnings.h)."""
    if key.startswith("tokenizer."):
        return TokenizationWarning
    if key.startswith("attention."):
        return NonFiniteAttentionWarning
    if key.startswith("model."):
        return ModelConfigWarning
    return UserWarning
