"""The Tiny Recursive Model in NumPy: engine, training, weights and the baselines it is compared with."""
