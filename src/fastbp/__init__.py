"""fastbp: fast, fused backward passes for dense neural networks on the CPU.

Compiled kernels (Cython + C) whose GEMMs run in SciPy's BLAS and whose
element-wise work (activation derivatives, bias gradients) is fused into
OpenMP loops. Examples are columns, as in the Deep Learning Specialization:
``X`` is (n_x, m), ``W[l]`` is (n_l, n_{l-1}), ``b[l]`` is (n_l, 1).
"""
from fastbp.layers import (
    dense_backward,
    dense_forward,
    loss,
    output_delta,
    softmax,
)
from fastbp._openmp_helpers import effective_n_threads, openmp_enabled
from fastbp._registry import ACTIVATIONS, LOSSES
from fastbp import optim
from fastbp.network import Network
from fastbp.optim import (SGD, Adam, ExponentialDecay, InverseTimeDecay, StepDecay,
                          schedule_lr_decay, update_lr)
from fastbp._config import show_config

from fastbp._version import version as __version__

__all__ = [
    "ACTIVATIONS",
    "Adam",
    "ExponentialDecay",
    "InverseTimeDecay",
    "Network",
    "SGD",
    "StepDecay",
    "optim",
    "schedule_lr_decay",
    "show_config",
    "update_lr",
    "LOSSES",
    "dense_backward",
    "dense_forward",
    "effective_n_threads",
    "loss",
    "openmp_enabled",
    "output_delta",
    "softmax",
    "__version__",
]
