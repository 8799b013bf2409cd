"""Comparing pytrees bit for bit in tests (typed PRNG keys by their data)."""

import jax
import jax.numpy as jnp
import numpy as np


def _bits(x):
    """A leaf as `(kind, dtype, shape, bytes)` (a typed key: its dtype, implementation and
    data), or `(type name, value)` for a Python leaf."""
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        data = np.asarray(jax.random.key_data(x))
        return ("key", str(x.dtype), str(jax.random.key_impl(x)), data.shape, data.tobytes())
    if isinstance(x, jax.Array | np.ndarray | np.generic):
        x = np.asarray(x)
        return ("array", x.dtype.str, x.shape, x.tobytes())
    return (type(x).__name__, x)


def assert_bit_identical(a, b):
    """Same tree structure (static fields included), same leaf types, dtypes, shapes and
    bytes (NaNs and signed zeros included); typed keys with the same implementation."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b),
                            strict=True):
        where = jax.tree_util.keystr(path)
        assert type(x) is type(y) or isinstance(x, jax.Array) and isinstance(y, jax.Array), where
        assert _bits(x) == _bits(y), where
