/*
 * The one registry of fastbp's codes: activations, losses, label (Y) element
 * types and optimizers. The C kernels switch on these; fastbp._registry
 * derives every Python name table from them (src/fastbp/_registry.pyx), so a
 * code is written here and nowhere else.
 */
#ifndef FASTBP_CODES_H
#define FASTBP_CODES_H

enum fbp_act {
    FBP_IDENTITY = 0,
    FBP_RELU = 1,
    FBP_LEAKY_RELU = 2,
    FBP_SIGMOID = 3,
    FBP_TANH = 4,
    FBP_ELU = 5,
    FBP_GELU = 6,
    FBP_GELU_TANH = 7,
    FBP_SILU = 8,
    FBP_SOFTPLUS = 9,
    FBP_N_ACT = 10
};

enum fbp_loss { FBP_BCE = 0, FBP_CE = 1, FBP_MSE = 2, FBP_POISSON = 3, FBP_N_LOSS = 4 };

/* Element type of the labels Y the loss kernels read. */
enum fbp_ytype { FBP_Y_F32 = 0, FBP_Y_F64 = 1, FBP_Y_U8 = 2, FBP_Y_I32 = 3,
                 FBP_Y_I64 = 4 };

/* Optimizer of the network kernel's fused update. MOMENTUM, NESTEROV and
 * ADAM are the course's formulas; the *_STEP codes are the other common
 * forms (scikit-learn's, Keras's): a velocity that is the parameter step
 * (lr inside it), and Adam with its bias correction folded into the step
 * size (Kingma & Ba 2015, end of section 2). fastbp/optim.py has both. */
enum fbp_opt { FBP_OPT_NONE = 0, FBP_OPT_SGD = 1, FBP_OPT_MOMENTUM = 2,
               FBP_OPT_NESTEROV = 3, FBP_OPT_ADAM = 4, FBP_OPT_MOMENTUM_STEP = 5,
               FBP_OPT_NESTEROV_STEP = 6, FBP_OPT_ADAM_STEP = 7 };

#endif
