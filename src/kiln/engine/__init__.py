"""The engine: Layer, the functional graph, Model, Sequential and the training loop."""
