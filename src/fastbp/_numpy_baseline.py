"""The plain-NumPy baseline ``fastbp train`` and ``bench/bench_train.py`` time fastbp against.

Not part of the API: the same network and updates written course style, so
the speed comparison runs from an installed package too.
"""
import numpy as np

from fastbp import reference

__all__ = ["NumpyNetwork", "one_hot"]


class NumpyNetwork:
    """The same network and update written in plain NumPy, course style.

    The baseline of ``fastbp train``'s speed comparison and of
    ``bench/bench_train.py``:
    a dict of parameters, a list of caches, one ufunc per formula, the
    course's update loops over the dict. Labels for softmax are one-hot.

    Parameters
    ----------
    net : fastbp.Network
        Architecture and initial parameters are copied from it.
    optimizer : fastbp.optim.Optimizer
    """

    def __init__(self, net, optimizer):
        self.dims = net.layer_dims
        self.hidden = net.hidden
        self.output = net.output
        self.lambd = net.lambd
        self.params = {k: v.copy() for k, v in net.parameters.items()}
        self.kind = optimizer.kind
        self.opt = optimizer
        self.t = 0
        self.v = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.s = {k: np.zeros_like(v) for k, v in self.params.items()}

    @staticmethod
    def _act(Z, name):
        if name == "relu":
            return np.maximum(Z, 0)
        if name == "tanh":
            return np.tanh(Z)
        if name == "sigmoid":
            return 1 / (1 + np.exp(-Z))
        if name == "identity":
            return Z
        return reference.activation(Z, name)

    @staticmethod
    def _dact(dA, A, Z, name):
        if name == "relu":
            return dA * (A > 0)
        if name == "tanh":
            return dA * (1 - A ** 2)
        if name == "sigmoid":
            return dA * A * (1 - A)
        v = Z if name in reference.DERIVATIVE_FROM_Z else A
        return dA * reference.activation_derivative(v, name)

    def step(self, X, Y):
        """One forward/backward/update on (X, Y); Y dense (n_L, m). Returns the cost."""
        P = self.params
        L = len(self.dims) - 1
        m = X.shape[1]
        A = X
        caches = []
        for l in range(1, L + 1):
            Z = P[f"W{l}"] @ A + P[f"b{l}"]
            caches.append((A, Z))
            if l < L:
                A = self._act(Z, self.hidden[l - 1])
            elif self.output == "softmax":
                e = np.exp(Z - Z.max(axis=0, keepdims=True))
                A = e / e.sum(axis=0, keepdims=True)
            elif self.output == "exp":                  # Poisson: the rate
                A = np.exp(Z)
            else:
                A = self._act(Z, self.output)
        AL = A
        if self.output == "sigmoid":
            cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m
        elif self.output == "softmax":
            cost = -np.sum(Y * np.log(AL)) / m
        elif self.output == "exp":                      # Poisson deviance / 2, less its constant
            cost = np.sum(AL - Y * caches[-1][1]) / m
        else:
            cost = np.sum((AL - Y) ** 2) / (2 * m)
        grads = {}
        dZ = AL - Y
        for l in range(L, 0, -1):
            A_prev, _ = caches[l - 1]
            grads[f"dW{l}"] = dZ @ A_prev.T / m
            if self.lambd:
                grads[f"dW{l}"] += self.lambd / m * P[f"W{l}"]
            grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True) / m
            if l > 1:
                dA = P[f"W{l}"].T @ dZ
                dZ = self._dact(dA, A_prev, caches[l - 2][1], self.hidden[l - 2])
        self._update(grads)
        return float(cost)

    def _update(self, grads):
        lr = self.opt.lr
        P = self.params
        if self.kind == "sgd":
            for k in P:
                P[k] -= lr * grads["d" + k]
        elif self.kind in ("momentum", "nesterov") and self.opt.velocity == "step":
            mu = self.opt.momentum
            for k in P:
                self.v[k] = mu * self.v[k] - lr * grads["d" + k]
                P[k] += (self.v[k] if self.kind == "momentum"
                         else mu * self.v[k] - lr * grads["d" + k])
        elif self.kind in ("momentum", "nesterov"):
            beta = self.opt.momentum
            for k in P:
                self.v[k] = beta * self.v[k] + (1 - beta) * grads["d" + k]
                if self.kind == "momentum":
                    P[k] -= lr * self.v[k]
                else:
                    P[k] -= lr * (beta * self.v[k] + (1 - beta) * grads["d" + k])
        else:
            self.t += 1
            b1, b2, eps = self.opt.beta1, self.opt.beta2, self.opt.eps
            for k in P:
                g = grads["d" + k]
                self.v[k] = b1 * self.v[k] + (1 - b1) * g
                self.s[k] = b2 * self.s[k] + (1 - b2) * g ** 2
                if self.opt.bias_correction == "step":
                    lr_t = lr * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
                    P[k] -= lr_t * self.v[k] / (np.sqrt(self.s[k]) + eps)
                    continue
                v_hat = self.v[k] / (1 - b1 ** self.t)
                s_hat = self.s[k] / (1 - b2 ** self.t)
                P[k] -= lr * v_hat / (np.sqrt(s_hat) + eps)


def one_hot(labels, n_classes, dtype=np.float32):
    """(n_classes, m) one-hot matrix of integer labels (m,)."""
    labels = np.asarray(labels).reshape(-1)
    Y = np.zeros((n_classes, labels.shape[0]), dtype=dtype)
    Y[labels, np.arange(labels.shape[0])] = 1
    return Y
