"""Course 2's NumPy code (weeks 1-2) for the c2w* examples.

The plain-NumPy course code is the tests' reference (tests/course_reference_c2.py,
written once); the namespaces below (``c2w1a1`` ... ``c2w2a1``) put it behind
the names and signatures the matching ``fastbp.course`` module exports, so an
example's notebook flow can be handed either one. Also: the data sets, made
without scikit-learn when it is not installed.
"""
import os
import sys
import types

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")     # the course's plots, without windows
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
import course_reference_c2 as ref  # noqa: E402


def predict(X, y, parameters):
    p = (ref.forward3(X, parameters)[0] > 0.5).astype(int)
    print("Accuracy: " + str(np.mean(p[0, :] == y[0, :])))
    return p


def _print_costs(costs, every, print_every):
    for j, c in enumerate(costs):
        if (j * every) % print_every == 0:
            print("Cost after iteration {}: {}".format(j * every, c))


def _plot_costs(costs, xlabel, learning_rate):
    """The course's cost plot at the end of its model functions (when
    matplotlib is installed), so both sides of a comparison do the same work;
    the plotting code is not what the examples compare, so it is fastbp's."""
    from fastbp.course._c2utils import plot_costs
    plot_costs(costs, xlabel, learning_rate)


def init_model(X, Y, learning_rate=0.01, num_iterations=15000, print_cost=True,
               initialization="he"):
    init = {"zeros": ref.init_zeros, "random": ref.init_random, "he": ref.init_he}
    p, costs = ref.gd_loop(X, Y, init[initialization]([X.shape[0], 10, 5, 1]), learning_rate,
                           num_iterations, every=1000 if print_cost else 0)
    _print_costs(costs, 1000, 1000)
    if print_cost:
        _plot_costs(costs, 'iterations (per hundreds)', learning_rate)
    return p


def reg_model(X, Y, learning_rate=0.3, num_iterations=30000, print_cost=True, lambd=0,
              keep_prob=1):
    p, costs = ref.gd_loop(X, Y, ref.init_reg([X.shape[0], 20, 3, 1]), learning_rate,
                           num_iterations, lambd, None if keep_prob == 1 else keep_prob,
                           every=1000 if print_cost else 0)
    _print_costs(costs, 1000, 10000)
    if print_cost:
        _plot_costs(costs, 'iterations (x1,000)', learning_rate)
    return p


def opt_model(X, Y, layers_dims, optimizer, learning_rate=0.0007, mini_batch_size=64,
              beta=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8, num_epochs=5000,
              print_cost=True, decay=None, decay_rate=1):
    p, costs, lrs = ref.opt_model(X, Y, layers_dims, optimizer, learning_rate,
                                  mini_batch_size, beta, beta1, beta2, epsilon, num_epochs,
                                  decay, decay_rate)
    for i in range(0, num_epochs, 1000) if print_cost else ():
        print("Cost after epoch %i: %f" % (i, costs[i]))
        if decay:
            print("learning rate after epoch %i: %f" % (i, lrs[i]))
    if print_cost:
        _plot_costs(costs[::100], 'epochs (per 100)', learning_rate)
    return p


def forward_propagation_n(X, Y, parameters):
    a3, cache = ref.forward3(X, parameters)
    return 1. / X.shape[1] * np.sum(ref.cost_terms(a3, Y)), cache


def train_and_predict(course, label, train, test, *model_args, **model_kwargs):
    """The notebooks' cell pair: ``parameters = model(...)``, then predict on
    the training set and (when given) the test set."""
    print(f"[{label}]")
    parameters = course.model(*train, *model_args, **model_kwargs)
    for name, (X, Y) in (("train", train), ("test", test)):
        if X is not None:
            print(f"On the {name} set:")
            course.predict(X, Y, parameters)


c2w1a1 = types.SimpleNamespace(model=init_model, predict=predict)
c2w1a2 = types.SimpleNamespace(model=reg_model, predict=predict)
c2w1a3 = types.SimpleNamespace(
    forward_propagation_n=forward_propagation_n, gradient_check_n=ref.gradient_check_n,
    backward_propagation_n=lambda X, Y, cache: ref.backward3(X, Y, cache))
c2w2a1 = types.SimpleNamespace(
    model=opt_model, predict=predict,
    update_lr=lambda learning_rate0, epoch_num, decay_rate:
        1 / (1 + decay_rate * epoch_num) * learning_rate0)


# ------------------------------------------------------------------ data

def circles(n, noise, seed):
    """The course's make_circles(n, noise) after np.random.seed(seed); a NumPy
    stand-in with the same shapes when scikit-learn is missing."""
    np.random.seed(seed)
    try:
        from sklearn.datasets import make_circles
        X, Y = make_circles(n_samples=n, noise=noise)
    except ImportError:
        t = np.random.rand(n) * 2 * np.pi
        Y = np.arange(n) % 2
        r = np.where(Y == 1, 0.8, 1.0)
        X = np.c_[r * np.cos(t), r * np.sin(t)] + noise * np.random.randn(n, 2)
    return X.T, Y.reshape(1, n)


def moons(n, noise, seed):
    """The course's make_moons(n, noise) after np.random.seed(seed), or a stand-in."""
    np.random.seed(seed)
    try:
        from sklearn.datasets import make_moons
        X, Y = make_moons(n_samples=n, noise=noise)
    except ImportError:
        t = np.random.rand(n) * np.pi
        Y = np.arange(n) % 2
        X = np.where(Y[:, None] == 0, np.c_[np.cos(t), np.sin(t)],
                     np.c_[1 - np.cos(t), 0.5 - np.sin(t)]) + noise * np.random.randn(n, 2)
    return X.T, Y.reshape(1, n)


def spots(n, seed):
    """A stand-in for the regularization notebook's data.mat (2-D points, two classes)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-0.75, 0.65, (2, n))
    Y = ((X[0] * 2.5 + np.sin(4 * X[1]) + 0.3 * rng.standard_normal(n)) > 0).astype(float)
    return X, Y.reshape(1, n)


# ------------------------------------------------------------------ timing

def compare(flow, fastbp_module, numpy_module, argv=None):
    """Run ``flow(course)`` with the NumPy code and with fastbp, printing each
    run's time and the lines it printed (costs, accuracies) side by side."""
    import io
    import time
    from contextlib import redirect_stdout

    try:        # the model functions plot their costs: import matplotlib before timing either
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        pass
    times = {}
    for name, course in (("NumPy", numpy_module), ("fastbp", fastbp_module)):
        out = io.StringIO()
        t0 = time.perf_counter()
        with redirect_stdout(out):
            result = flow(course)
        times[name] = time.perf_counter() - t0
        print(f"--- {name}: {times[name]:.2f} s")
        print(out.getvalue().rstrip())
        if result is not None:
            print(f"result: {result}")
    print(f"=== speed-up: {times['NumPy'] / times['fastbp']:.1f}x "
          f"(NumPy {times['NumPy']:.2f} s, fastbp {times['fastbp']:.2f} s)")
