"""Imitation and IRL algorithms: each `jaxil.algorithms.<name>(env, <Name>Config()) -> Algorithm`."""

from jaxil.algorithms.bc import BCConfig, BCState, bc, bc_loss

__all__ = ["BCConfig", "BCState", "bc", "bc_loss"]
