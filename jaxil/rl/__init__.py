"""Reinforcement learning used by experts and adversarial imitation: GAE and PPO."""
