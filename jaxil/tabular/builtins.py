"""Built-in tabular MDPs: seeded random MDPs, gridworlds and the cliff world.

`random_mdp` is jittable and vmaps over keys (a batch of MDPs is
`jax.vmap(lambda k: random_mdp(k, ...))(keys)`); the grid builders run on the host.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxil.tabular.mdp import TabularMDP
from jaxil.types import PRNGKey

# Gridworld actions: stay, up, down, left, right as (drow, dcol).
GRID_MOVES = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))

DEFAULT_LAYOUT = (
    "S....",
    ".XX..",
    "...X.",
    ".X...",
    "....G",
)


@eqx.filter_jit
def random_mdp(key: PRNGKey, num_states: int = 16, num_actions: int = 4,
               num_features: int = 4, *, horizon: int | None = None,
               discount: float = 0.9, branching: int | None = 3,
               state_action_features: bool = False, reward_scale: float = 1.0) -> TabularMDP:
    """A random MDP with a random linear true reward.

    Args:
        key: PRNG key (the same key gives the same MDP).
        num_states, num_actions, num_features: `S`, `A`, `K`.
        horizon: `H` for a finite-horizon MDP (then `discount` may be 1), or `None`.
        discount: `[]` discount.
        branching: number of possible next states per `(s, a)` (Dirichlet(1)
            probabilities on a random subset); `None` for dense transitions.
        state_action_features: features `phi[S, A, K]` instead of `phi[S, K]`.
        reward_scale: the true reward is `reward_scale * phi @ w` with `w ~ N(0, I/K)`.

    Returns:
        A `TabularMDP` with `reward = reward_scale * phi @ w`.
    """
    k_sub, k_p, k_mu, k_phi, k_w = jax.random.split(key, 5)
    s, a = num_states, num_actions
    logits = jax.random.exponential(k_p, (s, a, s))  # Dirichlet(1) after normalising
    if branching is not None and branching < s:
        scores = jax.random.uniform(k_sub, (s, a, s))
        kth = jnp.sort(scores, axis=-1)[..., s - branching][..., None]
        logits = jnp.where(scores >= kth, logits, 0.0)
    transitions = logits / jnp.sum(logits, axis=-1, keepdims=True)
    mu = jax.random.exponential(k_mu, (s,))
    shape = (s, a, num_features) if state_action_features else (s, num_features)
    features = jax.random.normal(k_phi, shape)
    w = jax.random.normal(k_w, (num_features,)) / jnp.sqrt(num_features)
    return TabularMDP(transitions, mu / jnp.sum(mu), features, reward_scale * features @ w,
                      discount, horizon)


def _grid_transitions(height: int, width: int, moves: Sequence[tuple[int, int]],
                      slip: float, blocked: np.ndarray | None = None) -> np.ndarray:
    """`P[S, A, S]` of a grid: each move succeeds with probability `1 - slip`, else a
    uniformly random move is taken; moves off the grid (or into `blocked`) stay put."""
    s = height * width
    intended = np.zeros((s, len(moves), s))
    for row in range(height):
        for col in range(width):
            for i, (dr, dc) in enumerate(moves):
                r2 = min(max(row + dr, 0), height - 1)
                c2 = min(max(col + dc, 0), width - 1)
                if blocked is not None and blocked[r2, c2]:
                    r2, c2 = row, col
                intended[row * width + col, i, r2 * width + c2] = 1.0
    random_move = intended.mean(axis=1, keepdims=True)
    return (1.0 - slip) * intended + slip * random_move


def gridworld(layout: Sequence[str] = DEFAULT_LAYOUT, *, slip: float = 0.1,
              horizon: int | None = None, discount: float = 0.9, goal_reward: float = 1.0,
              obstacle_reward: float = -1.0, features: str = "objects") -> TabularMDP:
    """A gridworld drawn as strings: `S` start, `G` goal, `X` obstacle, `.` free.

    Five actions (stay, up, down, left, right); a move succeeds with probability
    `1 - slip`, otherwise a uniformly random action is taken; bumping into the border
    stays put. Obstacles can be crossed but are penalised.

    Args:
        layout: rows of the grid (equal lengths). Starts are uniform over the `S` cells
            (all non-obstacle cells when there is none).
        slip: probability of a random action.
        horizon: `H` or `None` (discounted).
        discount: `[]` discount.
        goal_reward, obstacle_reward: the true reward of a goal / obstacle cell (0
            elsewhere), received per visited state.
        features: `"objects"`: `phi[S, 2]` = (is goal, is obstacle), so the true reward is
            linear with weights `(goal_reward, obstacle_reward)`; `"onehot"`: `phi = I_S`.

    Returns:
        A `TabularMDP` with state features and a state reward `r[S]`.
    """
    grid = np.array([list(row) for row in layout])
    if grid.ndim != 2 or not set(np.unique(grid)) <= set("SGX."):
        raise ValueError("layout: expected rows of equal length made of 'S', 'G', 'X', '.'")
    height, width = grid.shape
    flat = grid.reshape(-1)
    goal, obstacle = (flat == "G").astype(np.float32), (flat == "X").astype(np.float32)
    start = (flat == "S").astype(np.float32)
    if start.sum() == 0:
        start = 1.0 - obstacle
    transitions = _grid_transitions(height, width, GRID_MOVES, slip)
    if features == "objects":
        phi = np.stack([goal, obstacle], axis=-1)
    elif features == "onehot":
        phi = np.eye(height * width, dtype=np.float32)
    else:
        raise ValueError(f"features: expected 'objects' or 'onehot', got {features!r}")
    reward = goal_reward * goal + obstacle_reward * obstacle
    return TabularMDP(transitions, start / start.sum(), phi, reward, discount, horizon)


def cliff_world(width: int = 7, height: int = 4, *, horizon: int = 8, fail_p: float = 0.3,
                reward_default: float = -1.0, reward_goal: float = 10.0,
                reward_cliff: float = -10.0, discount: float = 1.0,
                features: str = "onehot") -> TabularMDP:
    """The cliff world of `seals` (`seals.diagnostics.cliff_world.CliffWorldEnv`).

    Row 0 is `S C C ... C G`: start at the top-left, cliff cells (`reward_cliff`) between
    it and the goal (`reward_goal`); every other cell gives `reward_default`. The four
    actions move diagonally (`(drow, dcol)` in `{-1, 1}^2`, action `drow + 1 +
    (dcol + 1) // 2`); with probability `fail_p` the wind carries the agent one row further
    up. The agent starts in state 0. Same transition matrix, rewards and start state as
    seals', so results compare one-to-one with the `imitation` library's MCE IRL.

    Args:
        width, height: grid size (states are `row * width + col`).
        horizon: `H`.
        fail_p: wind probability.
        reward_default, reward_goal, reward_cliff: the state rewards.
        discount: `[]` discount.
        features: `"onehot"` (`phi = I_S`) or `"xy"` (`phi[S, 2] = (col / (width - 1),
            row / (height - 1))`, seals' `use_xy_obs`).

    Returns:
        A finite-horizon `TabularMDP` with state features and a state reward `r[S]`.
    """
    if width < 3 or height < 2:
        raise ValueError(f"width, height: expected >= 3 and >= 2, got {width}, {height}")
    n = width * height
    transitions = np.zeros((n, 4, n))
    reward = np.full(n, reward_default, np.float32)
    reward[1:width - 1] = reward_cliff
    reward[width - 1] = reward_goal
    xy = np.zeros((n, 2), np.float32)

    def clamp(row, col):
        return min(max(row, 0), height - 1) * width + min(max(col, 0), width - 1)

    for row in range(height):
        for col in range(width):
            s = clamp(row, col)
            xy[s] = (col / (width - 1), row / (height - 1))
            for drow in (-1, 1):
                for dcol in (-1, 1):
                    a = (drow + 1) + (dcol + 1) // 2
                    transitions[s, a, clamp(row + drow - 1, col + dcol)] += fail_p
                    transitions[s, a, clamp(row + drow, col + dcol)] += 1.0 - fail_p
    if features == "onehot":
        phi = np.eye(n, dtype=np.float32)
    elif features == "xy":
        phi = xy
    else:
        raise ValueError(f"features: expected 'onehot' or 'xy', got {features!r}")
    initial = np.zeros(n, np.float32)
    initial[0] = 1.0
    return TabularMDP(transitions, initial, phi, reward, discount, horizon)
