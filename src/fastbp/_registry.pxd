# The one registry of codes (csrc/fastbp_codes.h): activations, losses, label
# element types, optimizers. Every .pyx cimports the names from here; the
# Python tables in fastbp._registry are derived from these values.
cimport numpy as cnp
cdef extern from "fastbp_codes.h" nogil:
    cdef enum fbp_act:
        FBP_IDENTITY
        FBP_RELU
        FBP_LEAKY_RELU
        FBP_SIGMOID
        FBP_TANH
        FBP_ELU
        FBP_GELU
        FBP_GELU_TANH
        FBP_SILU
        FBP_SOFTPLUS
        FBP_N_ACT

    cdef enum fbp_loss:
        FBP_BCE
        FBP_CE
        FBP_MSE
        FBP_POISSON
        FBP_N_LOSS

    cdef enum fbp_ytype:
        FBP_Y_F32
        FBP_Y_F64
        FBP_Y_U8
        FBP_Y_I32
        FBP_Y_I64

    cdef enum fbp_opt:
        FBP_OPT_NONE
        FBP_OPT_SGD
        FBP_OPT_MOMENTUM
        FBP_OPT_NESTEROV
        FBP_OPT_ADAM
        FBP_OPT_MOMENTUM_STEP
        FBP_OPT_NESTEROV_STEP
        FBP_OPT_ADAM_STEP

# No activation: dense_backward's activation=None (the input layer).
cdef enum:
    ACT_NONE = -1

# Below this many GEMM flops per thread a layer or a network step runs on one
# thread: forking a team (and its barriers) costs more than it saves.
cdef enum:
    MIN_FLOPS_PER_THREAD_C = 2000000

# The same limit for a whole network step, on every OpenBLAS core (until the
# team chooser, the cores without small-matrix kernels kept the one above:
# fastbp._network's docstring says why and what changed). Forward flops of
# the batch per thread; the step has a few barriers per layer and one fork.
# Measured on 2 cores (AMD EPYC, quiet; bench/RESULTS.md, "team size of small
# steps"): digits [64, 128, 10] Adam epochs at batch 32 ran 1.32x faster on
# 2 threads in float64 and 1.11-1.17x in float32, batch 16 1.31x (float64) and
# 1.04x (float32), [64, 256, 128, 10] at batch 32 1.5-1.7x; float32 steps do
# half the work per flop, so their limit is twice float64's.
cdef enum:
    NET_MIN_FLOPS_PER_THREAD_F = 200000
    NET_MIN_FLOPS_PER_THREAD_D = 100000


cdef inline int label_code(int typenum) noexcept nogil:
    """FBP_Y_* code of labels of this NumPy type number, read without a
    conversion (fastbp._registry.LABEL_DTYPES, bool as uint8), or -1."""
    if typenum == cnp.NPY_FLOAT:
        return FBP_Y_F32
    if typenum == cnp.NPY_DOUBLE:
        return FBP_Y_F64
    if typenum == cnp.NPY_UINT8 or typenum == cnp.NPY_BOOL:
        return FBP_Y_U8
    if typenum == cnp.NPY_INT32:
        return FBP_Y_I32
    if typenum == cnp.NPY_INT64:
        return FBP_Y_I64
    return -1
