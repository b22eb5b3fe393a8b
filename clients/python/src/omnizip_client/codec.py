"""Tensors <-> safetensors bytes, for numpy (no torch needed) and torch.

numpy has no bfloat16 dtype, so BF16 travels in numpy land as raw bits: a :class:`BF16Bits`
wrapper around a ``uint16`` array, or an ``ml_dtypes.bfloat16`` array when that package is
installed (detected by dtype name, never imported). Decoded BF16 tensors become float32 in
numpy mode (an exact widening) and ``torch.bfloat16`` in torch mode.

Requests are planned by :func:`layout` (``safetensors.numpy`` cannot write BF16, and
``safetensors.torch`` orders tensors differently) and written either to ``bytes``
(:func:`encode`) or straight into a shared mapping (``_memfd``). Responses are parsed here
(one header parse, which also yields ``__metadata__``) and converted to torch when asked.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

__all__ = [
    "BF16Bits",
    "bf16_bits_to_float32",
    "float32_to_bf16_bits",
    "is_torch",
    "encode",
    "layout",
    "Layout",
    "decode",
    "decode_header",
    "to_torch",
]

# safetensors dtype name -> numpy dtype of the stored bytes (BF16 as its uint16 bits).
_NUMPY_OF: Dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}

_NAME_OF: Dict[np.dtype, str] = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "U8",
    np.dtype(np.int8): "I8",
    np.dtype(np.uint16): "U16",
    np.dtype(np.int16): "I16",
    np.dtype(np.uint32): "U32",
    np.dtype(np.int32): "I32",
    np.dtype(np.uint64): "U64",
    np.dtype(np.int64): "I64",
    np.dtype(np.float16): "F16",
    np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64",
}


@dataclass(frozen=True)
class BF16Bits:
    """A bfloat16 tensor held as its raw ``uint16`` bit patterns (numpy has no bfloat16).

    ``BF16Bits.from_float32(x)`` rounds to nearest-even; ``.to_float32()`` widens exactly.
    """

    bits: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.bits, np.ndarray) or self.bits.dtype != np.uint16:
            raise TypeError("BF16Bits wraps a numpy uint16 array of bfloat16 bit patterns")

    @property
    def shape(self) -> Tuple[int, ...]:
        return tuple(self.bits.shape)

    @property
    def ndim(self) -> int:
        return self.bits.ndim

    @classmethod
    def from_float32(cls, values: Any) -> "BF16Bits":
        return cls(float32_to_bf16_bits(np.asarray(values, dtype=np.float32)))

    def to_float32(self) -> np.ndarray:
        return bf16_bits_to_float32(self.bits)

    def reshape(self, *shape: Any) -> "BF16Bits":
        return BF16Bits(self.bits.reshape(*shape))

    def __getitem__(self, index: Any) -> "BF16Bits":
        return BF16Bits(np.asarray(self.bits[index]))

    def __len__(self) -> int:
        return len(self.bits)


def bf16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    """Exact widening of bfloat16 bit patterns to float32."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def float32_to_bf16_bits(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits, round to nearest even (NaN stays a quiet NaN)."""
    f = np.ascontiguousarray(values, dtype=np.float32)
    u = f.view(np.uint32)
    rounded = ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(f)
    if nan.any():
        rounded = np.where(nan, ((u >> np.uint32(16)) | np.uint32(0x40)).astype(np.uint16), rounded)
    return rounded


def is_torch(x: Any) -> bool:
    """True for a torch.Tensor, without importing torch."""
    return type(x).__module__.split(".", 1)[0] == "torch" and hasattr(x, "dtype") and hasattr(x, "device")


def is_ml_dtypes_bf16(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.name == "bfloat16" and x.dtype.itemsize == 2


def _at_least_1d(x: Any) -> Any:
    """Scalars travel as shape [1] (what the writer has always sent)."""
    return x.reshape(1) if x.ndim == 0 else x


def _wire_numpy(name: str, value: Any) -> Tuple[str, np.ndarray]:
    """(safetensors dtype, array of the stored element type: little-endian, BF16 as its bits).

    The array is a view where possible (it may be non-contiguous): :meth:`Layout.to_bytes`
    makes it contiguous, the memfd writer copies it into place with its strides.
    """
    if isinstance(value, BF16Bits):
        return "BF16", _at_least_1d(np.asarray(value.bits, dtype="<u2"))
    if is_ml_dtypes_bf16(value):
        return "BF16", _at_least_1d(value.view("<u2"))
    if is_torch(value):
        raise TypeError("internal: torch tensor in the numpy writer")
    array = np.asarray(value)
    if array.dtype.kind in "US" or array.dtype == object:
        raise TypeError(f"tensor '{name}' has dtype {array.dtype}, which safetensors cannot carry")
    native = array.dtype.newbyteorder("=") if array.dtype.byteorder not in "=|" else array.dtype
    dtype_name = _NAME_OF.get(np.dtype(native))
    if dtype_name is None:
        raise TypeError(f"tensor '{name}' has unsupported dtype {array.dtype}")
    return dtype_name, _at_least_1d(np.asarray(array, dtype=_NUMPY_OF[dtype_name]))


# torch dtype (as str) -> safetensors dtype name: what the tensor's numpy view would be called.
_TORCH_NAME_OF: Dict[str, str] = {
    "torch.bool": "BOOL",
    "torch.uint8": "U8",
    "torch.int8": "I8",
    "torch.uint16": "U16",
    "torch.int16": "I16",
    "torch.uint32": "U32",
    "torch.int32": "I32",
    "torch.uint64": "U64",
    "torch.int64": "I64",
    "torch.float16": "F16",
    "torch.bfloat16": "BF16",
    "torch.float32": "F32",
    "torch.float64": "F64",
}

_ITEMSIZE: Dict[str, int] = {name: dtype.itemsize for name, dtype in _NUMPY_OF.items()}


def _wire_torch(name: str, value: Any) -> Tuple[str, Any]:
    """(safetensors dtype, the detached tensor as it is: any device, any strides)."""
    dtype_name = _TORCH_NAME_OF.get(str(value.dtype))
    if dtype_name is None:
        raise TypeError(f"tensor '{name}' has unsupported dtype {value.dtype}")
    return dtype_name, _at_least_1d(value.detach())


def torch_cpu_array(tensor: Any) -> np.ndarray:
    """A torch tensor's stored bytes as a contiguous numpy array on the CPU (bfloat16 as uint16 bits)."""
    import torch

    t = tensor.detach().to("cpu").contiguous()
    return t.view(torch.int16).numpy().view(np.uint16) if t.dtype == torch.bfloat16 else t.numpy()


EMBEDDING_TENSORS = frozenset({"inputs_embeds", "audio_embeds", "video_embeds"})


@dataclass(frozen=True)
class Entry:
    """One tensor of a request: where its bytes go and where they come from."""

    name: str
    dtype: str
    shape: Tuple[int, ...]
    #: Offset of its first byte in the file (after the header).
    offset: int
    nbytes: int
    #: A numpy array of the stored element type, or a torch tensor (any device); either may be strided.
    source: Any


@dataclass(frozen=True)
class Layout:
    """A safetensors file planned from names, dtypes and shapes, before any tensor byte is copied.

    ``header`` is the 8-byte little-endian length and the JSON header padded with spaces to a
    multiple of 8; the entries follow in data order. :meth:`to_bytes` and the memfd writer
    both fill the file from this one plan, so they give the same bytes.
    """

    header: bytes
    entries: Tuple[Entry, ...]
    size: int

    def to_bytes(self) -> bytes:
        parts: list = [self.header]
        for e in self.entries:
            if e.nbytes:
                array = torch_cpu_array(e.source) if is_torch(e.source) else np.ascontiguousarray(e.source)
                parts.append(array.reshape(-1).view(np.uint8).data)
        return b"".join(parts)


def layout(tensors: Mapping[str, Any], metadata: Optional[Mapping[str, str]] = None) -> Layout:
    """Plan the safetensors file of ``tensors`` (numpy arrays, BF16Bits, lists, or torch tensors)."""
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    planned = []
    for name, value in tensors.items():
        dtype_name, source = _wire_torch(name, value) if is_torch(value) else _wire_numpy(name, value)
        shape = tuple(int(n) for n in source.shape)
        planned.append((name, dtype_name, shape, _ITEMSIZE[dtype_name] * int(np.prod(shape, dtype=np.int64)), source))
    # Widest elements first so every tensor starts aligned to its element size (as the
    # reference writer does); the data section starts at a multiple of 8. Among tensors of one
    # width the embeddings go last, so the server can plan and start compressing while they
    # arrive (an F32 split request would otherwise send audio_embeds before audio_scores).
    planned.sort(key=lambda p: (-_ITEMSIZE[p[1]], p[0] in EMBEDDING_TENSORS, p[0]))
    header: Dict[str, Any] = {}
    if meta:
        header["__metadata__"] = meta
    offset = 0
    for name, dtype_name, shape, nbytes, _ in planned:
        header[name] = {"dtype": dtype_name, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    start = 8 + len(text)
    entries = []
    for name, dtype_name, shape, nbytes, source in planned:
        entries.append(Entry(name, dtype_name, shape, start, nbytes, source))
        start += nbytes
    return Layout(header=struct.pack("<Q", len(text)) + text, entries=tuple(entries), size=start)


def encode(tensors: Mapping[str, Any], metadata: Optional[Mapping[str, str]] = None) -> bytes:
    """Serialise ``tensors`` (numpy arrays, BF16Bits, lists, or torch tensors) to safetensors.

    Torch tensors are copied to the CPU (bfloat16 as its bits) and written like numpy arrays:
    ``safetensors.torch.save`` would put F32 ``audio_embeds`` before ``audio_scores``.
    """
    return layout(tensors, metadata).to_bytes()


def decode_header(body: bytes) -> Tuple[Dict[str, Any], Dict[str, str], int]:
    """(tensor entries, ``__metadata__``, offset of the data section). Raises ValueError."""
    if len(body) < 8:
        raise ValueError(f"safetensors body of {len(body)} bytes is shorter than its 8-byte length prefix")
    (n,) = struct.unpack_from("<Q", body, 0)
    if n > len(body) - 8:
        raise ValueError(f"safetensors header claims {n} bytes but only {len(body) - 8} follow")
    try:
        header = json.loads(bytes(body[8 : 8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"safetensors header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise ValueError("safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    return header, {str(k): str(v) for k, v in metadata.items()}, 8 + n


def decode(body: bytes, *, bf16: str = "float32") -> Tuple[Dict[str, np.ndarray], Dict[str, str], Dict[str, str]]:
    """Parse a safetensors body into writable numpy arrays.

    Returns (tensors, metadata, dtypes) where dtypes maps each name to its safetensors dtype.
    ``bf16="float32"`` widens BF16 tensors exactly; ``bf16="bits"`` returns their uint16 bits.
    """
    entries, metadata, start = decode_header(body)
    data_len = len(body) - start
    tensors: Dict[str, np.ndarray] = {}
    dtypes: Dict[str, str] = {}
    for name, entry in entries.items():
        dtype_name = entry.get("dtype")
        if dtype_name not in _NUMPY_OF:
            raise ValueError(f"tensor '{name}' has unsupported dtype {dtype_name!r}")
        shape = tuple(int(s) for s in entry["shape"])
        begin, end = (int(x) for x in entry["data_offsets"])
        np_dtype = _NUMPY_OF[dtype_name]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= begin <= end <= data_len) or end - begin != count * np_dtype.itemsize:
            raise ValueError(f"tensor '{name}' has data_offsets {entry['data_offsets']} inconsistent with shape {list(shape)}")
        array = np.frombuffer(body, dtype=np_dtype, count=count, offset=start + begin).reshape(shape).copy()
        if dtype_name == "BF16" and bf16 == "float32":
            array = bf16_bits_to_float32(array)
        tensors[name] = array
        dtypes[name] = dtype_name
    return tensors, metadata, dtypes


def to_torch(array: np.ndarray, dtype_name: str, device: Any = None) -> Any:
    """numpy array from :func:`decode` (BF16 as bits or float32) -> torch tensor of the wire dtype."""
    import torch

    if dtype_name == "BF16":
        if array.dtype == np.uint16:
            t = torch.from_numpy(array.view(np.int16)).view(torch.bfloat16)
        else:
            t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(torch.bfloat16)
    elif dtype_name in ("U16", "U32", "U64"):
        t = torch.from_numpy(array.astype(np.int64))
    else:
        t = torch.from_numpy(np.ascontiguousarray(array))
    return t if device is None else t.to(device)


def dtype_name_of(x: Any) -> str:
    """safetensors dtype name of an embeddings-like value (numpy, BF16Bits or torch)."""
    if isinstance(x, BF16Bits) or is_ml_dtypes_bf16(x):
        return "BF16"
    if is_torch(x):
        return {"torch.float32": "F32", "torch.float16": "F16", "torch.bfloat16": "BF16"}.get(str(x.dtype), str(x.dtype))
    return _NAME_OF.get(np.asarray(x).dtype, str(np.asarray(x).dtype))

