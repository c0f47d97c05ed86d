"""ENet in Keras (needs TensorFlow): configuration, layers, the network, weights files."""
