"""attnscope: look inside transformer language models.

The Python front door of the attnscope C++ core. Names follow mlxterp's attention guide, so code
written for it runs with only the import changed::

    from attnscope import InterpretableModel
    from attnscope.visualization import get_attention_patterns, attention_heatmap

    model = InterpretableModel("attnscope:toy")
    with model.trace("The cat sat on the mat") as trace:
        pass
    patterns = get_attention_patterns(trace)      # {layer: ndarray [batch, heads, q, k]}
"""

from . import attribution, errors, fidelity, interventions, long_context, patching
from .errors import (AttnscopeError, AttnscopeIOError, InvalidArgumentError, MalformedFileError, NetworkError,
                     NotFoundError, UnsupportedError)
from .model import InterpretableModel, SavedValue, Trace, HookContext
from .corpus_scan import scan  # attnscope.distributed.scan (Dask) is imported on demand

__version__ = "0.1.0"

__all__ = ["InterpretableModel", "Trace", "SavedValue", "HookContext", "attribution", "fidelity", "interventions", "long_context", "patching", "errors", "scan", "AttnscopeError",
           "InvalidArgumentError", "MalformedFileError", "NotFoundError", "UnsupportedError", "AttnscopeIOError",
           "NetworkError", "__version__"]
