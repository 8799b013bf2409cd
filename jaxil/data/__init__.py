"""Demonstrations: the `Demos` container, validation, save/load, collection, sampling."""

from jaxil.data.demos import Demos, as_transitions, step_mask

__all__ = ["Demos", "as_transitions", "step_mask"]
