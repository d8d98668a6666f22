# cython: language_level=3
"""The names of fastbp's codes, derived from the C enums of csrc/fastbp_codes.h.

``ACTIVATIONS[code]`` and ``LOSSES[code]`` are the names of the C codes;
``ACT_CODES`` / ``LOSS_CODES`` map a name back to its code, ``DERIV_FROM_Z``
names the activations whose derivative needs Z. ``LABEL_DTYPES``
maps the dtypes the loss kernels read labels in to their element-type code,
``OPTIMIZERS`` the optimizer names of fastbp.optim to the network kernel's
update codes. ``DEFAULT_ALPHA`` holds the parameters of leaky_relu and elu,
``OUTPUT_LOSS`` the loss whose delta ``AL - Y`` matches each output
non-linearity, and ``MIN_FLOPS_PER_THREAD`` the size below which a layer or a
network step runs on one thread.
"""
import numpy as np

from fastbp._kernels cimport fbp_deriv_needs_z
from fastbp._registry cimport *

# name of every code; the tables below are built from these, in code order
cdef dict _ACT_NAMES = {
    FBP_IDENTITY: "identity", FBP_RELU: "relu", FBP_LEAKY_RELU: "leaky_relu",
    FBP_SIGMOID: "sigmoid", FBP_TANH: "tanh", FBP_ELU: "elu", FBP_GELU: "gelu",
    FBP_GELU_TANH: "gelu_tanh", FBP_SILU: "silu", FBP_SOFTPLUS: "softplus",
}
cdef dict _LOSS_NAMES = {FBP_BCE: "binary_crossentropy", FBP_CE: "crossentropy",
                         FBP_MSE: "mse", FBP_POISSON: "poisson"}

ACTIVATIONS = tuple(_ACT_NAMES[c] for c in range(FBP_N_ACT))
LOSSES = tuple(_LOSS_NAMES[c] for c in range(FBP_N_LOSS))
# activations whose derivative the kernels compute from Z, not from A = g(Z)
DERIV_FROM_Z = frozenset(ACTIVATIONS[c] for c in range(FBP_N_ACT) if fbp_deriv_needs_z(c))
ACT_CODES = {name: code for code, name in enumerate(ACTIVATIONS)}
LOSS_CODES = {name: code for code, name in enumerate(LOSSES)}

LABEL_DTYPES = {np.dtype(np.float32): FBP_Y_F32, np.dtype(np.float64): FBP_Y_F64,
                np.dtype(np.uint8): FBP_Y_U8, np.dtype(np.int32): FBP_Y_I32,
                np.dtype(np.int64): FBP_Y_I64}

# the kernel's update codes by name: the course's forms under the optimizer
# names of fastbp.optim, the step forms (SGD(velocity="step"),
# Adam(bias_correction="step")) with a "_step" suffix
OPTIMIZERS = {"none": FBP_OPT_NONE, "sgd": FBP_OPT_SGD, "momentum": FBP_OPT_MOMENTUM,
              "nesterov": FBP_OPT_NESTEROV, "adam": FBP_OPT_ADAM,
              "momentum_step": FBP_OPT_MOMENTUM_STEP, "nesterov_step": FBP_OPT_NESTEROV_STEP,
              "adam_step": FBP_OPT_ADAM_STEP}

DEFAULT_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}

# output non-linearity -> the loss for which dL/dZ = AL - Y
OUTPUT_LOSS = {"sigmoid": "binary_crossentropy", "softmax": "crossentropy",
               "identity": "mse", "exp": "poisson"}

MIN_FLOPS_PER_THREAD = MIN_FLOPS_PER_THREAD_C
