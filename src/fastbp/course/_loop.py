"""The course's gradient-descent loop with one fused kernel per layer.

fastbp.course's model functions run without dropout through
:class:`fastbp.Network` (compiled multi-step calls); this loop serves
dropout, whose masks come from ``np.random.rand`` as in the course.
"""
import numpy as np

from fastbp import _dense, _loss as _loss_kernels
from fastbp import _validation as _v
from fastbp._course import keys as _keys  # ("W{l}", "b{l}", "dW{l}", "db{l}", "dA{l}")
from fastbp._registry import ACT_CODES as _ACT_CODES, DEFAULT_ALPHA as _DEFAULT_ALPHA
from fastbp.course._layers import backward_layers as _backward_layers
from fastbp.course._layers import forward_layers as _forward_layers
from fastbp.course._layers import threads as _threads


def fit_layers(X, y, Ws, bs, dt, dims, hidden, learning_rate, start, stop, every, last,
               report, lambd, keep_prob, costs, cost_of):
    """Iterations start..stop-1 of gradient descent, one fused kernel per layer.

    Parameters live in one flat buffer and their gradients, pre-multiplied by
    the learning rate (the kernels' ``scale``), in another, so the update is
    one subtraction. Dropout masks come from ``np.random.rand`` as in the
    course. ``cost_of(AL, y, parameters)`` gives the cost on the iterations
    that report one. Appends to and returns ``costs``.
    """
    L = len(dims) - 1
    m = X.shape[1]
    dropout = keep_prob != 1.0
    n_par = sum(dims[l] * (dims[l - 1] + 1) for l in range(1, L + 1))
    theta = np.empty(n_par, dt)
    grad = np.empty(n_par, dt)
    W, b, gW, gb = [], [], [], []
    off = 0
    for l in range(1, L + 1):
        n, p = dims[l], dims[l - 1]
        for dst, gdst, shape in ((W, gW, (n, p)), (b, gb, (n, 1))):
            k = shape[0] * shape[1]
            dst.append(theta[off:off + k].reshape(shape))
            gdst.append(grad[off:off + k].reshape(shape))
            off += k
        W[-1][...] = Ws[l - 1]
        b[-1][...] = np.reshape(bs[l - 1], (n, 1))
    Z = [np.empty((dims[l], m), dt) for l in range(1, L + 1)]
    A = [np.empty((dims[l], m), dt) for l in range(1, L + 1)]
    dZ = [np.empty((dims[l], m), dt) for l in range(0, L + 1)]   # dZ[0]: unused dA0
    # the kernels run on validated inputs and these buffers directly
    X = _v.float2d(X, "A_prev")
    y_k, yt, yr, yc = _v.labels(y, A[-1])
    acts = [hidden] * (L - 1) + ["sigmoid"]
    act = [_ACT_CODES[a] for a in acts]
    alpha = [_DEFAULT_ALPHA.get(a, 0.0) for a in acts]
    fwd_in = [X] + A[:-1]
    fwd_nt = [_v.threads(_threads((dims[l + 1], dims[l]), m, 1)) for l in range(L)]
    bwd_nt = [_v.threads(_threads((dims[l + 1], dims[l]), m, 2)) for l in range(L)]
    nt = _v.threads(None)
    scale = learning_rate / m
    l2 = lambd * scale
    AL = A[-1]
    view = {}
    for l in range(1, L + 1):
        view[_keys(l)[0]] = W[l - 1]
        view[_keys(l)[1]] = b[l - 1]
    forward, backward, delta = _dense.forward, _dense.backward, _loss_kernels.output_delta

    def forward_layer(l, A_prev):
        k = l - 1
        forward(A_prev, W[k], b[k], 1, Z[k], A[k], act[k], alpha[k], fwd_nt[k])
        return A[k]

    def backward_layer(l, dZ_l):
        # dZ[l-1] = W^T dZ * g'(A[l-2]) (l = 1: unused W^T dZ), times 1/keep_prob
        k = l - 1
        backward(dZ_l, fwd_in[k], W[k], fwd_in[k], dZ[k], gW[k], gb[k],
                 act[k - 1] if k else _v.ACT_NONE, alpha[k - 1] if k else 0.0,
                 scale, l2, bwd_nt[k])
        if dropout and k > 0:
            np.divide(dZ[k], keep_prob, out=dZ[k])
        return dZ[k]

    for i in range(start, stop):
        _forward_layers(X, L, keep_prob, forward_layer)
        if (every and i % every == 0) or i == last:
            cost = cost_of(AL, y, view)
            if i % 100 == 0:
                costs.append(cost)
            report(i, cost)
        _backward_layers(delta(AL, y_k, yt, yr, yc, dZ[L], nt), L, backward_layer)
        np.subtract(theta, grad, out=theta)
    params = {}
    for l in range(1, L + 1):
        params[_keys(l)[0]] = W[l - 1].copy()
        params[_keys(l)[1]] = b[l - 1].copy()
    return params, costs
