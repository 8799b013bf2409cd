"""Demonstrations: the `Demos` container, validation, save/load, collection, sampling, buffers.

- `make_demos` / `validate_demos`: build and check padded episodes on the host;
  `concatenate` joins several.
- `save` / `load` / `load_with_metadata`: `.npz` files with a JSON header, never pickle;
  also other libraries' formats (imitation, Minari, D4RL, OGBench: `jaxil.data.formats`),
  and `convert` from one format to another.
- `collect`: complete episodes of a policy in an env.
- `split_demos`: a single-agent body's demos as those of its actuator split
  (`coop/<name>`, `jaxil.envs.cooperative`).
- `as_transitions`, `step_mask`, `sample_batch`, `sample_segments`,
  `sample_action_chunks`: views and samplers.
- `buffer_init` / `buffer_add` / `buffer_sample`: a functional replay buffer.
"""

from jaxil.data import formats
from jaxil.data.buffer import BufferState, buffer_add, buffer_init, buffer_sample
from jaxil.data.collect import collect
from jaxil.data.demos import Demos, as_transitions, concatenate, make_demos, step_mask
from jaxil.data.formats.convert import convert
from jaxil.data.sampling import sample_action_chunks, sample_batch, sample_segments
from jaxil.data.split import split_demos
from jaxil.data.storage import FORMAT_NAME, FORMAT_VERSION, load, load_with_metadata, save
from jaxil.data.validation import validate_demos

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "BufferState", "Demos", "as_transitions", "buffer_add",
    "buffer_init", "buffer_sample", "collect", "concatenate", "load", "load_with_metadata",
    "make_demos", "sample_batch", "sample_segments", "save", "step_mask", "validate_demos",
]

__all__ += ["sample_action_chunks"]
__all__ += ["convert", "formats"]
__all__ += ["split_demos"]
