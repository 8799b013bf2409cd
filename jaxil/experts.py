"""Training expert policies with jaxil's own PPO."""
