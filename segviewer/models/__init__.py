"""Network architectures built in Keras (each module imports TensorFlow)."""
