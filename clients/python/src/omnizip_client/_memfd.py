"""Request bodies in sealed memfds: create one, write the safetensors request into it, seal it.

A same-host server maps the memfd instead of reading the body from the socket. Each tensor is
copied once, straight from its own memory into its place in the file; no ``bytes`` of the
whole body is ever built. The seals promise the server that nobody can change or resize the
file once it has been handed over.

Two ways in, chosen per tensor:

- contiguous tensors in host memory (numpy arrays, CPU torch tensors) are ``pwrite``-n: the
  kernel fills fresh pages without zeroing them first, which a first write through a mapping
  must (the one-minute clip's 62 MB request: 24 against 51 ms of CPU, measured on a 2-core VM);
- everything else (torch tensors on a device, strided views) is copied into a shared mapping
  of the file: ``copy_`` from a CUDA tensor goes straight from the GPU into the shared pages,
  and a strided numpy view is gathered in place by ``np.copyto``. The mapping is closed before
  sealing: F_SEAL_WRITE fails with EBUSY while a writable shared mapping exists.

With ``huge_pages``, the memfd is first tried in huge pages (``MFD_HUGETLB``), where the host
reserves them (``vm.nr_hugepages``; Kubernetes: a ``hugepages-2Mi`` resource). Everything then
goes through the mapping (hugetlbfs has no ``write``), and the file is a whole number of huge
pages long, the body at its start. A 62 MB body is then 30 pages to fault on each side instead
of 15,000: the server maps it without populating page tables for 3-4 ms, and filling it costs
the client 40% of the 4 KiB memfd's time (9.9 against 24.7 ms). Where no huge page can be had (none reserved,
the pool or the cgroup's limit exhausted, a kernel before 5.14) the 4 KiB memfd is used: the
pages are faulted in up front (``MADV_POPULATE_WRITE``), so a shortage is an error here, never
a SIGBUS while writing.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import socket
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np

from .codec import Entry, Layout, is_torch, torch_cpu_array

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["NAME", "SEALS", "available", "from_bytes", "from_layout", "write"]

#: The memfd's name (it shows as /memfd:omnizip-request in /proc/PID/fd).
NAME = "omnizip-request"

#: Shrink, grow, write, and further seals: the contents are fixed for good.
SEALS = (getattr(fcntl, "F_SEAL_SHRINK", 0) | getattr(fcntl, "F_SEAL_GROW", 0) | getattr(fcntl, "F_SEAL_WRITE", 0)
         | getattr(fcntl, "F_SEAL_SEAL", 0))


def available() -> bool:
    """True where memfds, seals and descriptor passing all exist (Linux, Python 3.9+)."""
    return (hasattr(os, "memfd_create") and hasattr(os, "MFD_ALLOW_SEALING") and hasattr(socket, "send_fds")
            and fcntl is not None and hasattr(fcntl, "F_ADD_SEALS"))


#: Linux's memfd_create flag for huge pages, and madvise's advice that faults pages in for writing.
MFD_HUGETLB = getattr(os, "MFD_HUGETLB", 4)
MADV_POPULATE_WRITE = 23


def write(request: Union[bytes, Layout], huge_pages: bool = False) -> Tuple[int, bool]:
    """A sealed memfd holding ``request`` (serialised bytes, or the safetensors file a layout
    describes), and whether it is in huge pages (only ever tried with ``huge_pages``). The
    caller closes it."""
    if huge_pages:
        fd = _in_huge_pages(request)
        if fd is not None:
            return fd, True
    if isinstance(request, Layout):
        return from_layout(request), False
    return from_bytes(request), False


def from_bytes(data: bytes) -> int:
    """A sealed memfd of 4 KiB pages holding ``data`` (an already serialised request). The
    caller closes it."""
    return _sealed(len(data), lambda fd: _pwrite_all(fd, memoryview(data), 0))


def from_layout(plan: Layout) -> int:
    """A sealed memfd of 4 KiB pages holding the safetensors file ``plan`` describes. The
    caller closes it."""

    def fill(fd: int) -> None:
        _pwrite_all(fd, memoryview(plan.header), 0)
        mapped: List[Entry] = []
        for e in plan.entries:
            host = _host_bytes(e.source) if e.nbytes else None
            if host is not None:
                _pwrite_all(fd, host, e.offset)
            elif e.nbytes:
                mapped.append(e)
        if mapped:
            _write_mapped(fd, plan.size, mapped)

    return _sealed(plan.size, fill)


def _in_huge_pages(request: Union[bytes, Layout]) -> Optional[int]:
    """``request`` in a sealed huge-page memfd, or None where huge pages cannot be had."""
    if isinstance(request, Layout):
        prefix, entries, size = request.header, [e for e in request.entries if e.nbytes], request.size
    else:
        prefix, entries, size = request, [], len(request)
    reserved = _huge_pages_for(size)
    if reserved is None:
        return None
    fd, padded = reserved
    # hugetlbfs has no write(2): everything goes through the mapping.
    return _seal(fd, lambda fd: _write_mapped(fd, padded, entries, prefix))


def _huge_pages_for(size: int) -> Optional[Tuple[int, int]]:
    """A memfd in huge pages with room for ``size`` bytes, every page already faulted in, and
    its length (whole huge pages); None where huge pages cannot be had."""
    try:
        fd = os.memfd_create(NAME, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING | MFD_HUGETLB)
    except OSError:
        return None
    try:
        page = os.fstat(fd).st_blksize
        padded = -(-max(size, 1) // page) * page
        os.ftruncate(fd, padded)
        # The pages stay the file's once faulted: writing them later cannot fail.
        with mmap.mmap(fd, padded, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE) as mapping:
            mapping.madvise(MADV_POPULATE_WRITE)
    except OSError:
        os.close(fd)
        return None
    return fd, padded


def _sealed(size: int, fill: Callable[[int], None]) -> int:
    fd = os.memfd_create(NAME, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)

    def sized_fill(fd: int) -> None:
        os.ftruncate(fd, size)
        fill(fd)

    return _seal(fd, sized_fill)


def _seal(fd: int, fill: Callable[[int], None]) -> int:
    """``fd`` filled by ``fill`` and sealed; closed if either fails."""
    assert fcntl is not None
    try:
        fill(fd)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    data = data.cast("B")
    while data:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


def _host_bytes(source: Any) -> Optional[memoryview]:
    """The bytes of a contiguous host-memory tensor, without a copy; None otherwise."""
    if is_torch(source):
        if source.device.type != "cpu" or not source.is_contiguous():
            return None
        return torch_cpu_array(source).reshape(-1).view(np.uint8).data
    if not source.flags.c_contiguous:
        return None
    return source.reshape(-1).view(np.uint8).data


def _write_mapped(fd: int, size: int, entries: List[Entry], prefix: bytes = b"") -> None:
    """Copy ``prefix`` to the start of a shared mapping of the file's ``size`` bytes, and each
    entry into its slice (offsets are aligned to the element size). Each view into the mapping
    is dropped after its copy: ``mmap.close`` refuses while one is alive."""
    mapping = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    try:
        mapping[: len(prefix)] = prefix
        for e in entries:
            if is_torch(e.source):
                _copy_torch(mapping, e)
            else:
                dst = np.frombuffer(mapping, dtype=e.source.dtype, count=e.source.size, offset=e.offset)
                np.copyto(dst.reshape(e.source.shape), e.source)
                del dst
    except BaseException:
        # A view may live on in the traceback; the mapping then goes when that is freed. The
        # error to report is the copy's, not close's BufferError.
        with contextlib.suppress(BufferError):
            mapping.close()
        raise
    mapping.close()


def _copy_torch(mapping: mmap.mmap, e: Entry) -> None:
    import torch

    with torch.no_grad():
        torch.frombuffer(mapping, dtype=torch.uint8, count=e.nbytes, offset=e.offset).view(e.source.dtype).view(
            e.source.shape).copy_(e.source)
