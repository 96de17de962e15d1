"""Size and cost of a Keras model: parameters and multiply-accumulates (imports TensorFlow)."""

from __future__ import annotations

from typing import Any


def count_macs(model: Any, height: int, width: int) -> int:
    """Multiply-accumulates of one forward pass at ``height`` x ``width`` (batch 1), from
    TensorFlow's graph profiler (float operations / 2)."""
    import tensorflow as tf
    from tensorflow.python.profiler import model_analyzer, option_builder

    spec = tf.TensorSpec([1, height, width, 3], model.inputs[0].dtype)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    options = option_builder.ProfileOptionBuilder(option_builder.ProfileOptionBuilder.float_operation())
    options = options.with_empty_output().build()
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # the v1 profiler warns that its own internals are deprecated
    try:
        profile = model_analyzer.profile(concrete.graph, options=options)
    finally:
        logger.setLevel(level)
    return int(profile.total_float_ops // 2)
