"""Python client of the omnizip sidecar (OmniZip token compression, arXiv 2511.14582).

- :class:`Client` / :class:`AsyncClient`: ``compress``, ``score``, ``info``, ``ready``...
- :mod:`budget`: the exact-count budget from sizes alone (``/v1/budget`` without a round trip).
- :func:`apply`: slice the prefill inputs (embeddings, attention mask, M-RoPE position ids);
  :func:`slice_deepstack`: Qwen3-Omni's visual mask and DeepStack rows likewise.
- :func:`omnizip`: drop-in for the reference ``omnizip(...)``, computed by the server.
"""

from .address import ServerAddress
from .apply import Applied, apply, slice_deepstack, write_merged
from . import budget
from .async_client import AsyncClient
from .budget import Budget
from .client import DEFAULT_URL, Client
from .codec import BF16Bits
from .dropin import default_client, omnizip, set_default_client
from .models import MODELS
from .errors import (
    ClientError,
    OmniZipError,
    OverloadedError,
    ProtocolError,
    ServerError,
    TimeoutError,
    TransportError,
)
from .results import CompressResult, Counts, ScorePlan
from .retry import RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "Applied",
    "MODELS",
    "AsyncClient",
    "BF16Bits",
    "Budget",
    "Client",
    "ClientError",
    "CompressResult",
    "Counts",
    "DEFAULT_URL",
    "OmniZipError",
    "OverloadedError",
    "ProtocolError",
    "RetryPolicy",
    "ScorePlan",
    "ServerAddress",
    "ServerError",
    "TimeoutError",
    "TransportError",
    "apply",
    "slice_deepstack",
    "budget",  # the module: budget.budget(...) sizes placeholders without a round trip
    "default_client",
    "omnizip",
    "set_default_client",
    "write_merged",
    "__version__",
]
