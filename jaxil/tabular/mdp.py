"""`TabularMDP`: a finite MDP as arrays, and helpers to build and inspect one.

Conventions used by every tabular function (`S` states, `A` actions, `K` features, `H` the
horizon):

- `transitions[S, A, S']` holds `P(s' | s, a)`; `initial[S]` the start distribution.
- `features` is `phi[S, K]` (a reward on states) or `phi[S, A, K]` (on state-actions); a
  reward table has the same leading shape: `r[S]` or `r[S, A]`.
- Finite horizon (`horizon=H`): an episode takes `H` actions and visits the `H + 1` states
  `s_0 .. s_H`. A *state* reward is received in every visited state, the last one on arrival
  (so the state occupancy sums to `H + 1` for `discount=1`); a *state-action* reward at the
  `H` decisions. The return is `sum_t discount**t r_t`.
- Infinite horizon (`horizon=None`): the discounted sum `sum_t discount**t r(s_t, a_t)`
  (needs `discount < 1`); occupancies sum to `1 / (1 - discount)`.
- Policies are `pi[H, S, A]` (finite horizon, time-dependent) or `pi[S, A]` (infinite).

A `TabularMDP` is an `equinox.Module` whose only static field is the horizon, so a batch
of MDPs (a leading axis on every array) goes through `jax.vmap` of any solver.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from jaxil.types import Array


class TabularMDP(eqx.Module):
    """A finite MDP.

    Attributes:
        transitions: `[S, A, S]` float32, `P(s' | s, a)`; rows sum to 1.
        initial: `[S]` float32 start distribution.
        features: `[S, K]` (state features) or `[S, A, K]` (state-action features) float32.
        reward: the true reward, `[S]` or `[S, A]` float32, or `None` when unknown.
        discount: `[]` float32 discount (1 is allowed for a finite horizon).
        horizon: number of decisions per episode (static), or `None` for an
            infinite-horizon discounted MDP.
    """

    transitions: Array
    initial: Array
    features: Array
    reward: Array | None
    discount: Array
    horizon: int | None = eqx.field(static=True)

    def __init__(self, transitions, initial, features, reward=None, discount=1.0,
                 horizon: int | None = None):
        self.transitions = jnp.asarray(transitions, jnp.float32)
        self.initial = jnp.asarray(initial, jnp.float32)
        self.features = jnp.asarray(features, jnp.float32)
        self.reward = None if reward is None else jnp.asarray(reward, jnp.float32)
        self.discount = jnp.asarray(discount, jnp.float32)
        self.horizon = None if horizon is None else int(horizon)

    @property
    def num_states(self) -> int:
        return self.transitions.shape[-3]

    @property
    def num_actions(self) -> int:
        return self.transitions.shape[-2]

    @property
    def num_features(self) -> int:
        return self.features.shape[-1]

    @property
    def state_features(self) -> bool:
        """`True` for `phi[S, K]` (a reward on states), `False` for `phi[S, A, K]`."""
        return self.features.ndim - self.transitions.ndim == -1

    @property
    def finite(self) -> bool:
        return self.horizon is not None


def check_mdp(mdp: TabularMDP, atol: float = 1e-4) -> TabularMDP:
    """Validates shapes and probabilities on the host; raises `ValueError` naming the field.

    Not jittable (it reads values); call it once when an MDP is built from outside data.
    """
    p = np.asarray(mdp.transitions)
    if p.ndim != 3 or p.shape[0] != p.shape[2]:
        raise ValueError(f"transitions: expected [S, A, S], got shape {p.shape}")
    s, a, _ = p.shape
    if np.any(p < -atol) or not np.allclose(p.sum(-1), 1.0, atol=atol):
        raise ValueError("transitions: expected rows P[s, a, :] of probabilities summing to 1")
    mu = np.asarray(mdp.initial)
    if mu.shape != (s,) or np.any(mu < -atol) or abs(mu.sum() - 1.0) > atol:
        raise ValueError(f"initial: expected a distribution of shape ({s},), got shape "
                         f"{mu.shape} summing to {mu.sum():.6g}")
    phi = np.asarray(mdp.features)
    if phi.shape[:1] != (s,) or phi.ndim not in (2, 3) or (phi.ndim == 3 and phi.shape[1] != a):
        raise ValueError(f"features: expected [{s}, K] or [{s}, {a}, K], got shape {phi.shape}")
    if mdp.reward is not None and np.shape(mdp.reward) not in ((s,), (s, a)):
        raise ValueError(f"reward: expected [{s}] or [{s}, {a}], got shape "
                         f"{np.shape(mdp.reward)}")
    gamma = float(mdp.discount)
    if not 0.0 < gamma <= 1.0 or (mdp.horizon is None and gamma >= 1.0):
        raise ValueError(f"discount: expected 0 < discount < 1 (or <= 1 with a horizon), "
                         f"got {gamma}")
    if mdp.horizon is not None and mdp.horizon < 1:
        raise ValueError(f"horizon: expected >= 1 or None, got {mdp.horizon}")
    if not (np.all(np.isfinite(phi)) and np.all(np.isfinite(p))):
        raise ValueError("features/transitions: expected finite values")
    return mdp


def state_action_features(state_features: Array, num_actions: int) -> Array:
    """`phi(s) (x) e_a`: state features `[S, K]` -> state-action features `[S, A, A * K]`.

    A linear reward on these is an arbitrary linear reward per action.
    """
    eye = jnp.eye(num_actions, dtype=state_features.dtype)
    out = state_features[:, None, None, :] * eye[None, :, :, None]  # [S, A, A, K]
    return out.reshape(state_features.shape[0], num_actions, -1)


def reward_from_weights(mdp: TabularMDP, weights: Array) -> Array:
    """A linear reward `phi @ weights`: `[S]` or `[S, A]` for `weights[K]`."""
    return mdp.features @ weights


def with_reward(mdp: TabularMDP, reward: Array | None) -> TabularMDP:
    """`mdp` with its true reward replaced (`[S]` or `[S, A]`, or `None`)."""
    return TabularMDP(mdp.transitions, mdp.initial, mdp.features, reward, mdp.discount,
                      mdp.horizon)


def occupancy_total(mdp: TabularMDP, state_action: bool = False) -> Array:
    """Total mass of an occupancy measure of `mdp`, `[]`.

    State occupancy: `sum_{t=0}^{H} discount**t` (`H + 1` for `discount=1`) or
    `1 / (1 - discount)`; state-action occupancy: `sum_{t=0}^{H-1} discount**t` or
    `1 / (1 - discount)`.
    """
    gamma = mdp.discount
    if mdp.horizon is None:
        return 1.0 / (1.0 - gamma)
    n = mdp.horizon if state_action else mdp.horizon + 1
    return jnp.sum(gamma ** jnp.arange(n, dtype=jnp.float32))
