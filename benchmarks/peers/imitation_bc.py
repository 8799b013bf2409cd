"""Peer measurement: the PyTorch `imitation` library's BC on the same demonstrations.

Run with a Python that has `imitation` installed:
    python imitation_bc.py DEMOS.npz BATCH_SIZE NUM_BATCHES
`DEMOS.npz` holds `obs`, `acts`, `next_obs`, `dones` and the action space: `n` (discrete
actions) or `low` and `high` (continuous; imitation's default policy is then a diagonal
Gaussian). Prints one JSON line with samples/s.
"""

import json
import sys
import time

import gymnasium as gym
import numpy as np
import torch
from imitation.algorithms import bc
from imitation.data.types import Transitions

torch.set_num_threads(2)
path, batch_size, num_batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with np.load(path, allow_pickle=False) as f:
    obs, acts, next_obs, dones = f["obs"], f["acts"], f["next_obs"], f["dones"]
    if "n" in f:
        action_space = gym.spaces.Discrete(int(f["n"]))
    else:
        action_space = gym.spaces.Box(f["low"].astype(np.float32), f["high"].astype(np.float32))
transitions = Transitions(obs=obs, acts=acts, next_obs=next_obs, dones=dones,
                          infos=np.array([{}] * len(obs)))
observation_space = gym.spaces.Box(-np.inf, np.inf, obs.shape[1:], np.float32)
trainer = bc.BC(observation_space=observation_space, action_space=action_space,
                demonstrations=transitions, rng=np.random.default_rng(0),
                batch_size=batch_size)
trainer.train(n_batches=20)  # warm-up
start = time.perf_counter()
trainer.train(n_batches=num_batches)
seconds = time.perf_counter() - start
print(json.dumps({"library": "imitation", "batch_size": batch_size, "batches": num_batches,
                  "seconds": seconds, "samples_per_s": batch_size * num_batches / seconds}))
