"""MLIR's ranked memref descriptor, for numpy arrays of any rank.

    struct { T *allocated; T *aligned; int64_t offset;
             int64_t sizes[rank]; int64_t strides[rank]; }   // rank > 0

``_mlir_ciface_<fn>`` takes one pointer to such a struct per argument and
per (caller-allocated) result.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np


@functools.cache
def descriptor_type(rank: int) -> type[ctypes.Structure]:
    fields = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
              ("offset", ctypes.c_int64)]
    if rank > 0:
        fields += [("sizes", ctypes.c_int64 * rank), ("strides", ctypes.c_int64 * rank)]
    return type(f"MemRef{rank}D", (ctypes.Structure,), {"_fields_": fields})


def descriptor(array: np.ndarray) -> ctypes.Structure:
    """A descriptor viewing ``array`` (which must stay alive while it is used).

    Strides are in elements, as MLIR counts them; the caller has checked that
    they are whole multiples of the item size."""
    desc = descriptor_type(array.ndim)()
    ptr = array.ctypes.data
    desc.allocated = ptr
    desc.aligned = ptr
    desc.offset = 0
    if array.ndim:
        desc.sizes[:] = array.shape
        desc.strides[:] = [s // array.itemsize for s in array.strides]
    return desc


def as_array(desc: ctypes.Structure, shape, dtype) -> np.ndarray:
    """A numpy view of memory a descriptor points at (tests use it to read
    descriptors back)."""
    count = int(np.prod(shape)) if len(shape) else 1
    buf = (ctypes.c_char * (count * np.dtype(dtype).itemsize)).from_address(
        desc.aligned + desc.offset * np.dtype(dtype).itemsize)
    return np.frombuffer(buf, dtype=dtype).reshape(shape)
