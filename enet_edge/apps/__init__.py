"""Applications on top of the runtime and the model: bench, demo, evaluate, train."""
