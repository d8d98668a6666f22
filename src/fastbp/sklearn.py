"""scikit-learn's MLPClassifier and MLPRegressor, trained by fastbp's compiled kernels.

Drop-ins for :class:`sklearn.neural_network.MLPClassifier` and
:class:`sklearn.neural_network.MLPRegressor` (scikit-learn 1.7 to 1.9 API):
the same constructor parameters and defaults, fitted attributes, methods,
errors, warnings and numbers. Two ways to use them::

    from fastbp.sklearn import MLPClassifier        # 1. import fastbp's class

    from fastbp.sklearn import patch_sklearn        # 2. or patch scikit-learn:
    patch_sklearn()                                 #    existing code now gets
    from sklearn.neural_network import MLPClassifier  # fastbp's class

What is scikit-learn's and what is fastbp's
-------------------------------------------
Everything that is not the training arithmetic is scikit-learn's own code,
called through its utilities: input validation (``validate_data``,
``_check_sample_weight``), parameter validation (the estimator's
``_parameter_constraints``), label handling (``LabelBinarizer``,
``unique_labels``), the random stream (``check_random_state``,
``gen_batches``, ``train_test_split``; each epoch's ``sklearn.utils.shuffle``
is its one ``RandomState.shuffle`` call, made without its validation),
``accuracy_score`` / ``r2_score`` and ``_check_optimize_result``. So errors
and warnings are scikit-learn's, and with the same ``random_state`` fastbp
draws the same initial weights (Glorot-uniform, per layer ``coef`` then
``intercept``) and the same mini-batches and validation split.

scikit-learn's private names
----------------------------
Public scikit-learn API is used wherever it exists (``validate_data``,
``check_is_fitted``, ``available_if``, ``unique_labels``,
``type_of_target``, ...). Four private functions and one private class
attribute remain, for lack of a public equivalent, each imported once in
the table ``_SK_PRIVATE`` near the top of this module:

- ``sklearn.base._fit_context``: runs the estimator's parameter validation
  (scikit-learn's messages) around ``fit`` / ``partial_fit``;
- ``sklearn.utils.validation._check_sample_weight``: ``sample_weight``'s
  conversion and checks, exactly as scikit-learn's MLP fit calls it;
- ``sklearn.utils.multiclass._check_partial_fit_first_call``:
  ``partial_fit``'s ``classes=`` checks and messages;
- ``sklearn.utils.optimize._check_optimize_result``: L-BFGS's ``n_iter_``
  and ``ConvergenceWarning``, word for word;
- ``MLPClassifier._parameter_constraints`` / ``MLPRegressor._parameter_constraints``:
  the constructor parameters' constraints, reused as they are.

A scikit-learn release that moves one of them makes ``import
fastbp.sklearn`` raise an ImportError naming it (not a fit fail later);
tests/test_sklearn_api.py checks that every one resolves and that no other
private scikit-learn name is used here. (``Interval`` from the private
``sklearn.utils._param_validation``, once used for ``n_threads``, was
replaced by the plain type constraint ``Integral``.)

The forward pass, loss, backward pass and optimizer update run in fastbp's
:class:`fastbp.Network` (one flat parameter buffer; ``coefs_[i]`` is the
transposed view ``W[i+1].T`` of it, no copy). Examples are rows here, as in
scikit-learn; the network sees ``X.T`` (the same memory). A stochastic
epoch is one compiled call (:meth:`fastbp.Network.train_epoch`, which
gathers each mini-batch of scikit-learn's shuffled order, and its weights,
itself) for dense data; with sparse input it is one compiled step per
mini-batch.
``solver="lbfgs"`` runs SciPy's L-BFGS-B (scikit-learn's options: ``maxiter``,
``maxfun``, ``gtol=tol``) on :meth:`fastbp.Network.loss_and_gradient`, one
compiled call per evaluation over the whole data set. The update formulas
are scikit-learn's (:class:`fastbp.optim.SGD` with ``velocity="step"``,
:class:`fastbp.optim.Adam` with ``bias_correction="step"``).

The log-losses are scikit-learn's values (``Network._clip_loss``,
csrc/fastbp_loss.h): the probabilities clipped to [eps, 1 - eps], eps of the
network's dtype, before their logs, computed from the logits (lse - z,
clamped) for softmax and in scikit-learn's own arithmetic (expit, clip,
log p and log(1 - p)) for logistic outputs. ``loss_``, ``loss_curve_``,
``tol`` stopping and L-BFGS's line search, which compares them, therefore
follow scikit-learn's even where outputs saturate (a fresh-user trial found
the exact losses, which differ past -log(eps), 36 a term in float64,
sending L-BFGS elsewhere: ``coefs_`` 1.4e-2 apart after 5 iterations). The
Poisson loss is likewise scikit-learn's arithmetic (``e^z`` in the dtype,
``xlogy(y, y / y_pred) - y + y_pred``): inf or NaN where its ``e^z``
overflows or underflows, as scikit-learn's is.

Deliberate differences from scikit-learn
----------------------------------------
- ``n_threads`` (extra parameter, default None = all cores, honouring
  ``OMP_NUM_THREADS``): the threads of fastbp's kernels. Results depend on
  it only in the last bits (GEMM row blocks); each count is reproducible.
- ``coefs_[i]`` are F-contiguous views ``(n_in, n_out)`` of the network's
  weights, not C-contiguous arrays. Assigning new arrays to ``coefs_[i]`` /
  ``intercepts_[i]`` works (they are copied in before the next use).
- With ``solver="lbfgs"`` and float32 data, the parameters stay float32
  (scikit-learn's become float64 after L-BFGS).
- A float32 network predicts in float32; given data of a wider dtype
  (float64, int64) it returns scikit-learn's result dtype, float64, holding
  the float32 computation's values. float64 X (or a regressor's y) holding
  values beyond float32's range (3.4e38) is therefore a ValueError naming
  them, in ``predict*``, ``fit`` and ``partial_fit`` of a float32 network,
  as :class:`fastbp.Network` refuses it; scikit-learn computes such data in
  float64.
- A warm start or ``partial_fit`` after ``set_params(loss=...)`` on a fitted
  MLPRegressor is a ValueError: scikit-learn keeps ``out_activation_`` and
  reports the new loss of the old outputs (NaN for Poisson wherever one is
  <= 0), a pairing fastbp's kernels do not compute. So is one of an
  MLPClassifier whose ``out_activation_`` was set to "identity" or "exp".
- Sparse input (CSR, CSC) goes to fastbp's sparse first-layer kernel
  (:class:`fastbp.Network` with a sparse X): the products with X cost its
  nonzeros, as SciPy's sparse products do in scikit-learn. Mini-batches of a
  matrix denser than 10% are densified one at a time instead (dense GEMMs
  are faster there). Prediction reads a CSR X (examples as rows) as it is
  and converts a CSC one to CSR first (a copy of it, per call).

Negative sample weights are scikit-learn's: its fit checks them with
``_check_sample_weight(sample_weight, X)`` (no ``ensure_non_negative``), so
they pass, and each mini-batch's deltas are multiplied by its weights and its
gradients, L2 term and loss divided by its signed weight sum. fastbp's kernel
does the same arithmetic (``Network.loss_and_gradient(...,
ensure_non_negative=False)`` for L-BFGS), so parameters agree to rounding.
Two consequences of the semantics, not of fastbp: a mini-batch whose
weights sum to exactly zero raises NumPy's ``ZeroDivisionError`` from
scikit-learn's loss (fastbp raises the same type, also a ValueError, at the
same batch, after the same updates), and with weights whose negative part
dominates the loss is unbounded below: the fit drives logits far out, where
the reported log-loss differs as said above.
"""
import contextlib
import importlib
from numbers import Integral

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from fastbp import _blas, _fit, _validation
from fastbp.network import OUTPUTS, Network
from fastbp.optim import SGD, Adam

try:
    import sklearn
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d, gen_batches
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import type_of_target, unique_labels
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as _exc:                     # pragma: no cover - tested by monkeypatching
    raise _validation.sklearn_missing(_exc) from None
_validation.check_sklearn_version(sklearn.__version__)

# ------------------------------------------------- scikit-learn's private names
#: Every private scikit-learn name this module uses, in one place: (where, name,
#: why). Each is used because scikit-learn has no public name that does the same
#: (the module docstring says so too); all are stable from 1.3 to 1.9. A release
#: that moves one makes ``import fastbp.sklearn`` fail at once with an
#: ImportError that names it, not a later fit with an AttributeError;
#: tests/test_sklearn_api.py checks that each resolves and that no other
#: private scikit-learn name is used anywhere in this module.
_SK_PRIVATE = (
    ("sklearn.base", "_fit_context",
     "parameter validation (the estimator's constraints) with scikit-learn's messages, "
     "around fit and partial_fit"),
    ("sklearn.utils.validation", "_check_sample_weight",
     "sample_weight's conversion, checks and messages, as scikit-learn's fit calls it"),
    ("sklearn.utils.multiclass", "_check_partial_fit_first_call",
     "partial_fit's classes= checks and messages"),
    ("sklearn.utils.optimize", "_check_optimize_result",
     "L-BFGS's n_iter_ and ConvergenceWarning, word for word"),
    ("sklearn.neural_network.MLPClassifier", "_parameter_constraints",
     "the constructor parameters' constraints, reused as they are"),
    ("sklearn.neural_network.MLPRegressor", "_parameter_constraints",
     "the constructor parameters' constraints, reused as they are"),
)


def _sk_private(where, name):
    """``where.name`` (``where``: a module, or a module's class), or the ImportError
    that says which private scikit-learn name is gone."""
    try:
        try:
            owner = importlib.import_module(where)
        except ImportError:
            module, _, cls = where.rpartition(".")
            owner = getattr(importlib.import_module(module), cls)
        return getattr(owner, name)
    except (ImportError, AttributeError) as exc:
        raise _validation.sk_private_name_missing(where, name, sklearn.__version__,
                                                  exc) from None


_fit_context, _check_sample_weight, _check_partial_fit_first_call, _check_optimize_result, \
    _SK_CLASSIFIER_CONSTRAINTS, _SK_REGRESSOR_CONSTRAINTS = (
        _sk_private(where, name) for where, name, _ in _SK_PRIVATE)

__all__ = ["MLPClassifier", "MLPRegressor", "patch_sklearn", "unpatch_sklearn",
           "SKLEARN_MIN_VERSION"]

#: the oldest scikit-learn this module supports
SKLEARN_MIN_VERSION = _validation.SKLEARN_MIN_VERSION

_STOCHASTIC_SOLVERS = ("sgd", "adam")
#: scikit-learn's hidden activation -> fastbp's name for it
_HIDDEN = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
#: scikit-learn's out_activation_ -> fastbp's output
_OUTPUT = {"identity": "identity", "logistic": "sigmoid", "softmax": "softmax", "exp": "exp"}
#: densest sparse input whose mini-batches go to the sparse first-layer
#: kernel (fastbp.Network with a sparse X); denser ones are densified a batch
#: at a time (_SparseRows). A [20000, 100, 10] step on 200 examples, float64,
#: 2 threads: sparse 3.4-11 ms against dense 44 ms at densities 0.002-0.05,
#: 21 against 27 ms at 0.2; with 2000 features 3.1 against 2.5 ms at 0.2.
_SPARSE_DENSITY = 0.1

#: n_threads: None or an int (fastbp's Network checks the count itself)
_N_THREADS_CONSTRAINT = [None, Integral]


@contextlib.contextmanager
def _blas_single_thread():
    """A context in which SciPy's OpenBLAS (the one L-BFGS-B calls, and
    fastbp's GEMMs) runs one thread; overlapping contexts in several threads
    share it, and the last one out restores the count
    (``fastbp._blas.serial_begin``)."""
    _blas.serial_begin()
    try:
        yield
    finally:
        _blas.serial_end()


def _shuffled(sample_idx, random_state):
    """``sklearn.utils.shuffle(sample_idx, random_state=random_state)`` for a 1-D array.

    The same draws and the same result (``resample(replace=False)``: a
    permutation of ``arange(n)`` by ``random_state.shuffle``, then
    ``sample_idx`` taken at it), without its per-call validation
    (about 0.1 ms, once per epoch: several percent of a small epoch).
    ``random_state`` is a RandomState (``check_random_state``'s result).
    """
    perm = np.arange(sample_idx.shape[0])
    random_state.shuffle(perm)
    return sample_idx.take(perm)


def _lbfgs_iprint(verbose):
    """scikit-learn's ``iprint`` option (dropped from SciPy's L-BFGS-B in 1.15)."""
    iprint = 1 if (verbose is True or verbose >= 1) else -1
    major, minor = (int("".join(c for c in p if c.isdigit()) or 0)
                    for p in scipy.__version__.split(".")[:2])
    return {} if (major, minor) >= (1, 15) else {"iprint": iprint}


# ------------------------------------------------------------ the optimizers
class _Solver:
    """scikit-learn's SGDOptimizer / AdamOptimizer around fastbp's compiled update.

    The update itself is fastbp's :class:`fastbp.optim.SGD` with
    ``velocity="step"`` (``v = momentum v - lr g``; ``W += v``, or with
    Nesterov ``W += momentum v - lr g``) or :class:`fastbp.optim.Adam` with
    ``bias_correction="step"`` (``lr_t = lr sqrt(1 - beta_2^t) / (1 -
    beta_1^t)``; ``W -= lr_t m / (sqrt(v) + eps)``): scikit-learn's formulas
    (sklearn/neural_network/_stochastic_optimizers.py). This class adds its
    schedule logic (``invscaling`` after each epoch, ``adaptive`` on a stall).
    """

    def __init__(self, est):
        self.learning_rate_init = est.learning_rate_init
        if est.solver == "sgd":
            self.lr_schedule, self.power_t = est.learning_rate, est.power_t
            mu = float(est.momentum)
            self.opt = SGD(est.learning_rate_init, mu, bool(est.nesterovs_momentum and mu > 0),
                           velocity="step")
        else:
            self.lr_schedule, self.power_t = "constant", 0.0
            self.opt = Adam(est.learning_rate_init, est.beta_1, est.beta_2, est.epsilon,
                            bias_correction="step")
        self._saved = None

    @property
    def learning_rate(self):
        return self.opt.lr

    def attach(self, net):
        """Bind the optimizer to ``net`` (restoring its state after unpickling)."""
        if not net.is_bound(self.opt):
            net.bind_optimizer(self.opt)
            if self._saved is not None:
                arrays, t = self._saved
                if all(np.shape(a) == d.shape for a, d in zip(arrays, self.opt.state)):
                    for dst, src in zip(self.opt.state, arrays):
                        dst[...] = src
                    self.opt.t = t
                else:
                    # widths assigned to coefs_ after a pickle round trip: the
                    # state of the old widths is dropped, as carry_over does
                    self.opt.t = 0
        self._saved = None
        return self.opt

    def carry_over(self, net, same_shapes):
        """Keep the optimizer's state for the network that replaces ``net``
        (restored by :meth:`attach`), or drop it when the widths changed."""
        if same_shapes and net.is_bound(self.opt):
            self._saved = (tuple(np.array(a) for a in self.opt.state_arrays()), self.opt.t)
        elif not same_shapes:
            self._saved = None
            self.opt.t = 0
        self.opt.unbind()       # not a second network's optimizer: no warning on the next bind

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_saved"] = (tuple(np.array(a) for a in self.opt.state_arrays()), self.opt.t)
        return state

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.opt.lr = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.opt.lr <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.opt.lr /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.opt.lr)
        return False


# ------------------------------------------------------------------- helpers
def _sparse_structure(X):
    """X, refused if it is a malformed sparse matrix, before scikit-learn's
    validation or SciPy converts it (both trust its index arrays: a bad
    index crashed the process or came back as a matrix of other entries)."""
    # (a 1-D sparse array is left to scikit-learn's "Expected 2D" message)
    return (_validation.check_sparse_structure(X, "X") if sp.issparse(X) and X.ndim == 2
            else X)


def _in_network_dtype(X, dtype):
    """X converted to the network's dtype. float64 data beyond a float32
    network's range (1e39) is a ValueError naming it, as fastbp.Network and
    the sparse prediction path refuse it: X.astype made it inf (NumPy's
    "overflow encountered in cast" only), so predict returned NaN (class 0)
    and partial_fit trained on inf before "Solver produced non-finite
    parameter weights", where scikit-learn, computing such data in
    float64, returns finite values."""
    if X.dtype == dtype:
        return X
    if sp.issparse(X):
        data = _validation.converted_in_range(X.data, dtype, "X")
        return type(X)((data, X.indices.copy(), X.indptr.copy()), shape=X.shape)
    return _validation.converted_in_range(X, dtype, "X")


def _sparse_batches(X, max_rows):
    """A function of a batch's row indices returning its rows for the network
    (``rows.T`` is the network's X): a CSR matrix (the network's sparse
    first-layer products) unless X is denser than _SPARSE_DENSITY (dense
    rows, _SparseRows)."""
    n, d = X.shape
    if X.nnz <= _SPARSE_DENSITY * n * d:
        return X.__getitem__
    return _SparseRows(X, max_rows)


class _SparseRows:
    """Mini-batches of a dense-ish sparse X as dense rows, in one buffer reused
    for every batch: a batch's entries are scattered into zeros and set back
    to zero before the next, so a batch costs its nonzeros, not its dense
    size. ``toarray`` of each batch allocated (batch x n_features) afresh,
    and the page faults of that (160 MB a batch at 100,000 features) were a
    third of a sparse fit's time. The array returned is valid until the
    next call.
    """

    def __init__(self, X, max_rows):
        X = X.tocsr()
        if not X.has_canonical_format:        # duplicates summed, as toarray sums them
            X = X.copy()
            X.sum_duplicates()
        self.X = X
        self.buf = np.zeros((max_rows, X.shape[1]), dtype=X.dtype)
        self.last = None

    def __call__(self, idx):
        buf = self.buf
        if self.last is not None:
            buf[self.last] = 0
        part = self.X[idx]
        n = part.shape[0]
        rows = np.repeat(np.arange(n), np.diff(part.indptr))
        self.last = (rows, part.indices)
        buf[self.last] = part.data
        return buf[:n]


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share (see the module docstring)."""

    _parameter_constraints: dict = {}

    # The notebook (HTML) display links to the documentation of the
    # parameters, which are scikit-learn's: its page of the same estimator,
    # at the installed version (scikit-learn's BaseEstimator._get_doc_link)
    _doc_link_module = "fastbp"

    @property
    def _doc_link_template(self):
        major_minor = ".".join(sklearn.__version__.split(".")[:2])
        version = "dev" if "dev" in sklearn.__version__ else major_minor
        return (f"https://scikit-learn.org/{version}/modules/generated/"
                "sklearn.neural_network.{estimator_name}.html")

    def __init__(self, hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
                 learning_rate_init, power_t, max_iter, loss, shuffle, random_state, tol,
                 verbose, warm_start, momentum, nesterovs_momentum, early_stopping,
                 validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun,
                 n_threads):
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_threads = n_threads

    # ------------------------------------------------------------ pickling
    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        state = dict(state)
        state.pop("_net", None)            # compiled; rebuilt from coefs_ on first use
        state.pop("_views", None)
        if "coefs_" in state:              # plain C-ordered copies, as scikit-learn's
            state["coefs_"] = [np.ascontiguousarray(c) for c in state["coefs_"]]
            state["intercepts_"] = [np.array(b) for b in state["intercepts_"]]
        return state

    def __setstate__(self, state):
        if hasattr(super(), "__setstate__"):
            super().__setstate__(state)
        else:
            self.__dict__.update(state)
        self._net = None
        self._views = None

    # ------------------------------------------------------------- network
    def _build_network(self, layer_units, dtype):
        net = self._new_network(layer_units, dtype)
        self._net = net
        self._bind_views()
        return net

    def _new_network(self, layer_units, dtype):
        """A network for these layers, its parameters not yet set (nor published)."""
        out = _OUTPUT[self.out_activation_]
        if out not in OUTPUTS:
            raise _validation.sk_unsupported_loss(self.loss, OUTPUTS)
        # init=None: no draws of fastbp's own, which the caller's Glorot-uniform
        # ones would overwrite (75 ms of a 0.44 s fit at 6.4M parameters)
        # one name per hidden layer: none (hidden_layer_sizes=()) is no warning
        net = Network(layer_units, hidden=[_HIDDEN[self.activation]] * (len(layer_units) - 2),
                      output=out, dtype=dtype, seed=0, init=None, lambd=self.alpha,
                      n_threads=self.n_threads)
        return net

    def _bind_views(self):
        net = self._net
        L = net.n_layers
        self.coefs_ = [net.parameters[f"W{l}"].T for l in range(1, L + 1)]
        self.intercepts_ = [net.parameters[f"b{l}"][:, 0] for l in range(1, L + 1)]
        self._views = (tuple(self.coefs_), tuple(self.intercepts_))

    def _network(self, fitting=False):
        """The fitted Network, in step with ``coefs_`` / ``intercepts_`` and the parameters.

        ``fitting``: the network's thread count is set from ``n_threads``
        again (None: OpenMP's maximum now, for the fit that follows).
        Predictions read a count of None per call instead
        (:meth:`_forward_pass_fast`), without storing it on the network that
        other threads' predictions share.

        Rebuilt after unpickling. Arrays assigned to ``coefs_[i]`` /
        ``intercepts_[i]`` (or whole lists) are used from then on, as
        scikit-learn uses its lists: copied in, or, when their widths differ
        from the network's, a network of those widths is built around them.
        The lists then hold views of the network's weights again, not the
        arrays assigned: later training does not update those in place, as
        scikit-learn's does.
        A change of ``activation`` or ``out_activation_`` applies to the
        current weights, and a later warm start keeps the optimizer's state
        (its moments / velocities and step count), as scikit-learn's does.

        Raises
        ------
        ValueError
            The lists do not describe a network scikit-learn could run on
            this fit's data: a count other than ``n_layers_ - 1``, shapes
            that do not chain, an input width other than ``n_features_in_``
            or an output width other than ``n_outputs_`` (scikit-learn fails
            in its matrix products, or with an IndexError, there).
        """
        net = getattr(self, "_net", None)
        coefs, intercepts = self.coefs_, self.intercepts_
        views = getattr(self, "_views", None)
        assigned = (net is None or views is None
                    or len(coefs) != len(views[0]) or len(intercepts) != len(views[1])
                    or any(a is not b for a, b in zip(coefs, views[0]))
                    or any(a is not b for a, b in zip(intercepts, views[1])))
        if not assigned:
            units = list(net.layer_dims)
        else:
            coefs, intercepts = list(coefs), list(intercepts)
            units = _validation.sk_assigned_layers(coefs, intercepts, self.n_layers_,
                                                   self.n_features_in_, self.n_outputs_)
        output = _OUTPUT.get(self.out_activation_)
        if output is None:
            raise _validation.sk_unsupported_out_activation(self.out_activation_, _OUTPUT)
        if (net is not None and units == list(net.layer_dims) and net.output == output
                and (not net.hidden or net.hidden[0] == _HIDDEN[self.activation])):
            if assigned:
                self._copy_in(coefs, intercepts, net)
        else:
            if net is not None:
                # scikit-learn's new activation or output applies to the old
                # weights; its optimizer carries on where the widths allow
                coefs = [np.array(c) for c in coefs]
                intercepts = [np.array(b) for b in intercepts]
                solver = getattr(self, "_optimizer", None)
                if solver is not None:
                    solver.carry_over(net, same_shapes=units == list(net.layer_dims))
            dtype = np.result_type(coefs[0].dtype, np.float32)
            if dtype not in (np.float32, np.float64):
                dtype = np.float64
            # published (self._net, coefs_) only once its weights are in: a
            # predict in another thread (the first ones after unpickling, say)
            # used it half-copied, or copied its unset weights into a network of
            # its own, and returned wrong probabilities
            self._copy_in(coefs, intercepts, self._new_network(units, dtype))
        net = self._net
        net.lambd = float(self.alpha)
        if net.n_threads != self.n_threads or (fitting and self.n_threads is None):
            # None is read again at every fit (OpenMP's maximum now): a
            # threadpool_limits(...) around the call is followed, as
            # scikit-learn's OpenMP estimators follow it
            net.n_threads = self.n_threads
        # scikit-learn's loss values: probabilities clipped to [eps, 1 - eps]
        # with eps of the network's dtype (sklearn/neural_network/_base.py);
        # set on every use, as a network rebuilt after unpickling starts exact
        net._clip_loss(np.finfo(net.dtype).eps)
        return net

    def _copy_in(self, coefs, intercepts, net):
        """Copy the (n_in, n_out) / (n_out,) arrays into the network (their
        shapes checked by _validation.sk_assigned_layers, or the network's
        own views), then make ``net`` the estimator's."""
        for l, (c, b) in enumerate(zip(coefs, intercepts), start=1):
            net.parameters[f"W{l}"][...] = np.asarray(c).T
            net.parameters[f"b{l}"][:, 0] = np.asarray(b)
        net.parameters_changed()
        self._net = net
        self._bind_views()

    # ------------------------------------------------------------ fitting
    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        net = self._build_network(layer_units, dtype)
        # scikit-learn's Glorot-uniform draws, in its order (coef then
        # intercept, layer by layer), from the same RandomState
        factor = 2.0 if self.activation == "logistic" else 6.0
        for l in range(1, self.n_layers_):
            fan_in, fan_out = layer_units[l - 1], layer_units[l]
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept = self._random_state.uniform(-bound, bound, fan_out)
            net.parameters[f"W{l}"][...] = coef.astype(dtype, copy=False).T
            net.parameters[f"b{l}"][:, 0] = intercept.astype(dtype, copy=False)
        net.parameters_changed()
        # scikit-learn's _best_coefs start as copies of the initial weights: a
        # fit whose validation score never rises above -inf (NaN from the first
        # epoch) ends on them
        self._best_params = (net.flat_parameters.copy()
                             if self.early_stopping and self.solver in _STOCHASTIC_SOLVERS
                             else None)
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _fit(self, X, y, sample_weight=None, incremental=False):
        # fastbp's own check of the names, which scikit-learn's parameter
        # validation also makes unless skip_parameter_validation=True: an
        # unknown one would otherwise train another solver / loss silently
        for name, valid in (("solver", ("lbfgs",) + _STOCHASTIC_SOLVERS),
                            ("activation", tuple(_HIDDEN)),
                            ("learning_rate", ("constant", "invscaling", "adaptive")),
                            ("loss", ("log_loss",) if is_classifier(self)
                             else ("squared_error", "poisson"))):
            _validation.check_choice(name, getattr(self, name), valid)
        _validation.check_real("alpha", self.alpha, low=0.0)     # not the Network's "lambd"
        hidden_layer_sizes = _validation.sk_hidden_layer_sizes(self.hidden_layer_sizes)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        n_samples, n_features = X.shape
        if sample_weight is not None:
            # np.require: aligned too (ascontiguousarray keeps weights read with
            # np.frombuffer at an odd offset unaligned, which the kernels refuse)
            sample_weight = np.require(_check_sample_weight(sample_weight, X),
                                       dtype=np.float64, requirements=("C", "A"))
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        layer_units = [n_features] + hidden_layer_sizes + [y.shape[1]]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        elif self.out_activation_ not in (
                ("logistic", "softmax") if is_classifier(self)
                else ("exp",) if self.loss == "poisson" else ("identity",)):
            # the network's loss follows its output: it would report (and
            # lbfgs minimize) the old loss under the new one's name (or a
            # classifier an assigned identity / exp output's loss as log-loss)
            raise _validation.sk_continued_loss(self.loss, self.out_activation_, incremental)
        net = self._network(fitting=True)
        fitted = list(net.layer_dims)
        if fitted != layer_units and not (
                self.solver in _STOCHASTIC_SOLVERS and len(fitted) == len(layer_units)
                and fitted[-1] == layer_units[-1]):
            # A warm start or partial_fit continues the fitted (or assigned)
            # network, and scikit-learn reads hidden_layer_sizes only where
            # it starts a new one: sgd and adam train the fitted widths. It
            # fails inside its products on another number of layers or of
            # outputs, and its lbfgs, which packs the parameters by
            # hidden_layer_sizes, writes out of bounds (the process aborts).
            raise _validation.sk_continued_layers(fitted, layer_units, incremental,
                                                  self.solver)
        X = _in_network_dtype(X, net.dtype)
        if sp.issparse(X):
            X = X.tocsr()
        y = self._network_targets(y, net.dtype)
        if self.solver in _STOCHASTIC_SOLVERS:
            self._fit_stochastic(net, X, y, sample_weight, incremental)
        else:
            self._fit_lbfgs(net, X, y, sample_weight)
        _validation.sk_check_finite_weights([net.flat_parameters])
        return self

    def _network_targets(self, y, dtype):
        """y (n_samples, n_outputs) as the network takes it, examples as rows.

        Text, dates and time spans (a regressor's y, which validate_data
        leaves as it is) are left too: scikit-learn fails on them in its
        arithmetic, after its other checks, so the solvers raise
        ``sk_numeric_targets`` there (NumPy would cast dates to float silently).
        """
        if y.dtype == np.bool_:
            return y.view(np.uint8)
        if y.dtype.kind in "USVmM":
            return y
        # float64 targets beyond a float32 network's range (1e39) are refused,
        # naming it, as fastbp.Network refuses them: cast to inf, lbfgs
        # reported loss_ NaN and adam "non-finite parameter weights"
        y = np.asarray(y)
        return y if y.dtype == dtype else _validation.converted_in_range(y, dtype, "y")

    def _batch_step(self, net, opt, Xc, Yc, y_code, labels, sw_batch, batch_index,
                    batch_range):
        """One compiled step (forward, loss, backward, update) on a mini-batch.

        Xc, Yc: the batch as :meth:`Network.check_X` / :meth:`Network.check_Y`
        return them (examples as columns); ``batch_index`` and ``batch_range``
        (start, stop) place it in the epoch, for the message of weights
        summing to zero. Returns scikit-learn's loss of the batch, before
        the update.
        """
        if sw_batch is not None and sw_batch.sum() == 0:
            # scikit-learn's loss (np.average) raises before this batch's update
            raise _validation.sk_zero_weight_sum_error(batch_index, *batch_range)
        # as scikit-learn, a non-finite loss does not stop the epoch (early
        # stopping may still restore the best parameters; otherwise fit ends
        # with scikit-learn's "non-finite parameter weights" error)
        net.train_batch(Xc, Yc, y_code, labels, opt, check_finite=False, sample_weight=sw_batch)
        return self._sk_loss(net)

    def _sk_loss(self, net):
        """scikit-learn's value of the loss the network just computed.

        fastbp's squared error sums over the outputs where scikit-learn's
        averages over them (the gradients are the same).
        """
        data, l2 = net.last_loss_terms
        if self.loss == "squared_error" and self.n_outputs_ > 1:
            data = data / self.n_outputs_
        return data + l2

    def _fit_stochastic(self, net, X, y, sample_weight, incremental):
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = _Solver(self)
        opt = self._optimizer.attach(net)
        _validation.sk_no_partial_fit_early_stopping(self.early_stopping, incremental)
        early_stopping = self.early_stopping
        X_val = y_val = sw_val = None
        if early_stopping:
            # the split of the indices is the split of X, y (and sample_weight)
            # scikit-learn stratifies on its bool indicator (its messages name
            # the classes False / True); ours is that array viewed as uint8
            stratify = (y.view(np.bool_) if y.dtype == np.uint8 else y) if (
                is_classifier(self) and self.n_outputs_ == 1) else None
            idx_train, idx_val = train_test_split(
                np.arange(X.shape[0]), random_state=self._random_state,
                test_size=self.validation_fraction, stratify=stratify)
            _validation.sk_validation_set_size(idx_val.shape[0])
            X_val, y_val = X[idx_val], y[idx_val]
            if sample_weight is not None:
                sw_val = sample_weight[idx_val]
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val.astype(bool))
            else:
                y_val = y_val if self.n_outputs_ > 1 else y_val.ravel()
            X, y = X[idx_train], y[idx_train]
            if sample_weight is not None:
                sample_weight = sample_weight[idx_train]
        _validation.sk_numeric_targets(y)
        nan_loss = self._nan_loss(y)
        n_samples = X.shape[0]
        sample_idx = np.arange(n_samples, dtype=int)
        batch_size = _validation.sk_batch_size(self.batch_size, n_samples)
        dense = not sp.issparse(X)
        if dense:
            # The whole epoch in compiled calls (fastbp.Network.train_epoch: it
            # gathers each mini-batch of the shuffled order, and its weights,
            # itself); sparse rows go batch by batch (its gather is dense only)
            Xc = net.check_X(X.T)
            Yc, y_code, labels = net.check_Y(y.T, n_samples)
            if self.shuffle and batch_size < n_samples:
                # F-ordered rows (a DataFrame's to_numpy()) make a C-ordered
                # X.T, whose shuffled batches were gathered value by value:
                # examples contiguous once per fit instead (same bits)
                Xc = _validation.gather_layout(Xc)
                Yc = _validation.gather_layout(Yc)
        else:
            sparse_rows = _sparse_batches(X, min(batch_size, n_samples))
        # compiled calls of about 0.2 s: Ctrl-C is handled between them, as
        # scikit-learn's own loop handles it between mini-batches
        pacer = _fit.CallPacer()
        try:
            self.n_iter_ = 0
            for it in range(self.max_iter):
                if self.shuffle:
                    sample_idx = _shuffled(sample_idx, self._random_state)
                if dense:
                    accumulated_loss = self._compiled_epoch(
                        net, opt, Xc, Yc, y_code, labels, X, y, sample_weight,
                        sample_idx if self.shuffle else None, batch_size, pacer)
                else:
                    accumulated_loss = 0.0
                    for b, batch_slice in enumerate(gen_batches(n_samples, batch_size)):
                        idx = sample_idx[batch_slice] if self.shuffle else batch_slice
                        Xb = net.check_X(sparse_rows(idx).T)
                        Yb, y_code, labels = net.check_Y(y[idx].T, Xb.shape[1])
                        sw_batch = None if sample_weight is None else sample_weight[idx]
                        batch_loss = self._batch_step(net, opt, Xb, Yb, y_code, labels,
                                                      sw_batch, b,
                                                      (batch_slice.start, batch_slice.stop))
                        accumulated_loss += batch_loss * (batch_slice.stop - batch_slice.start)
                self.n_iter_ += 1
                self.loss_ = np.float64(np.nan if nan_loss else accumulated_loss / X.shape[0])
                self._epoch_end(early_stopping, X_val, y_val, sw_val, n_samples)
                if self._stop_now(early_stopping, incremental):
                    break
        except KeyboardInterrupt:
            _validation.sk_interrupted_warning()
        if early_stopping and self._best_params is not None:
            net.flat_parameters[...] = self._best_params
            net.parameters_changed()
            # scikit-learn's coefs_ *are* its best copies from here on (it
            # trains them in place on a warm start): a later fit that never
            # improves the score keeps its final parameters
            self._best_params = None

    def _epoch_end(self, early_stopping, X_val, y_val, sw_val, n_samples):
        """scikit-learn's bookkeeping after an epoch (loss curve, scores, schedule)."""
        self.t_ += n_samples
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
        self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val)
        self._optimizer.iteration_ends(self.t_)

    def _stop_now(self, early_stopping, incremental):
        """scikit-learn's stopping rules after an epoch (and its ConvergenceWarning)."""
        if self._no_improvement_count > self.n_iter_no_change:
            msg = _validation.sk_no_improvement_message(
                early_stopping, self.tol, self.n_iter_no_change)
            if self._optimizer.trigger_stopping(msg, self.verbose):
                return True
            self._no_improvement_count = 0
        if incremental:
            return True
        if self.n_iter_ == self.max_iter:
            _validation.sk_max_iter_warning(self.max_iter, ConvergenceWarning)
        return False

    def _compiled_epoch(self, net, opt, Xc, Yc, y_code, labels, X, y, sw, order, batch_size,
                        pacer):
        """One epoch in compiled calls (as many batches each as ``pacer`` says:
        a call of the whole epoch of a large data set held Ctrl-C back for
        seconds); returns scikit-learn's summed batch losses.

        A batch whose loss is not finite stops the call before its update;
        scikit-learn carries on (its loss curve turns inf/NaN and the fit
        ends with its non-finite-weights error unless early stopping
        restores the best parameters), so the rest of the epoch then runs
        batch by batch with non-finite values carried on.
        """
        n = X.shape[0]
        stop = None                  # the first batch whose weights sum to zero
        if sw is not None:
            # scikit-learn divides by each batch's weight sum, whatever its sign
            # (so does the kernel); a zero sum raises in its loss (np.average)
            # before that batch's update, after the earlier ones: run those,
            # then raise (the kernel would skip the batch and carry on)
            zero = np.add.reduceat(sw if order is None else sw[order],
                                   np.arange(0, n, batch_size)) == 0
            if zero.any():
                stop = int(np.argmax(zero))
        total = 0.0
        # scikit-learn's squared error averages over the outputs (_sk_loss)
        mean = self.loss == "squared_error" and self.n_outputs_ > 1
        try:
            total = pacer.run(lambda b, k, total: net.train_epoch(
                Xc, Yc, y_code, labels, opt, order, batch_size, b, k, total, sample_weight=sw,
                mean_over_outputs=mean), -(-n // batch_size) if stop is None else stop)
        except FloatingPointError as exc:
            b = exc.batch_index
            batches = list(gen_batches(n, batch_size))
            total = float(getattr(exc, "loss", np.nan)) * (batches[b].stop - batches[b].start)
            for i, sl in enumerate(batches[b:stop]):
                idx = sl if order is None else order[sl]
                Xb = net.check_X(X[idx].T)
                Yb, _, _ = net.check_Y(y[idx].T, Xb.shape[1])
                net.train_batch(Xb, Yb, y_code, labels, opt, check_finite=False,
                                sample_weight=None if sw is None else sw[idx])
                if i:
                    total += self._sk_loss(net) * (sl.stop - sl.start)
        if stop is not None:
            raise _validation.sk_zero_weight_sum_error(
                stop, stop * batch_size, min(n, (stop + 1) * batch_size))
        return total

    def _update_no_improvement_count(self, early_stopping, X, y, sample_weight):
        if early_stopping:
            val_score = self._score(X, y, sample_weight=sample_weight)
            self.validation_scores_.append(val_score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            last_valid_score = self.validation_scores_[-1]
            if last_valid_score < (self.best_validation_score_ + self.tol):
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last_valid_score > self.best_validation_score_:
                self.best_validation_score_ = last_valid_score
                self._best_params = self._net.flat_parameters.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _nan_loss(self, y):
        """Whether scikit-learn's loss of these training targets is NaN.

        Its Poisson loss (``xlogy(y, y / mu) - y + mu``,
        sklearn/neural_network/_base.py) is NaN at any y < 0, which it does
        not refuse; it trains on the gradient ``mu - y`` all the same. Every
        epoch (and every L-BFGS evaluation) covers all the training rows, so
        its loss is then NaN throughout, and so is ours.
        """
        return self.loss == "poisson" and bool(np.any(y < 0))

    def _fit_lbfgs(self, net, X, y, sample_weight):
        _validation.sk_numeric_targets(y)
        nan_loss = self._nan_loss(y)
        params = net.flat_parameters
        # one compiled call per evaluation over the whole data set; a sparse
        # X (CSR, examples as rows) is handed over as the CSR matrix of X.T
        # (features as rows), the form the network's sparse kernel reads as it
        # is (a CSC X.T would be sorted by feature at every evaluation)
        Xc = net.check_X(X.T.tocsr() if sp.issparse(X) else X.T)
        Yc, _, _ = net.check_Y(y.T, X.shape[0])

        def loss_grad(x):
            # scikit-learn checks no target's domain (a Poisson y < 0 trains)
            _, grad = net.loss_and_gradient(Xc, Yc, sample_weight=sample_weight, params=x,
                                            ensure_non_negative=False, check_targets=False)
            return (np.nan if nan_loss else self._sk_loss(net)), grad

        # L-BFGS-B's own vector updates run in SciPy's OpenBLAS; left at all
        # cores, its pool wakes between our calls and its idle threads spin
        # on the cores fastbp's OpenMP team needs next (digits, 2 threads:
        # 5.0 ms per evaluation instead of 1.3 ms). Its vectors are short,
        # so one BLAS thread costs it nothing.
        try:
            with _blas_single_thread():
                opt_res = scipy.optimize.minimize(
                    loss_grad, params.astype(np.float64), method="L-BFGS-B", jac=True,
                    options={"maxfun": self.max_fun, "maxiter": self.max_iter,
                             "gtol": self.tol, **_lbfgs_iprint(self.verbose)})
        finally:
            # the evaluations' workspaces are n_samples wide (more than X for
            # wide layers); a fitted estimator only predicts, in chunks
            net._release_workspaces()
        self.n_iter_ = _check_optimize_result("lbfgs", opt_res, self.max_iter)
        self.loss_ = np.float64(opt_res.fun)
        params[...] = opt_res.x
        net.parameters_changed()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {ndarray, sparse matrix, DataFrame} of shape (n_samples, n_features)
            float32 data is trained in float32, anything else in float64.
            Sparse matrices go to fastbp's sparse first-layer kernel (their
            mini-batches are densified one at a time when denser than 10%).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (any type LabelBinarizer takes) or real targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, with scikit-learn's semantics (each example's
            delta times its weight, gradients and the L2 term divided by the
            mini-batch's weight sum). As in scikit-learn, weights may be
            negative (a mini-batch whose weights sum below zero then takes a
            step of ascent), unlike :class:`fastbp.Network`'s, which refuses
            them by default.

        Returns
        -------
        self : object

        Raises
        ------
        ValueError, TypeError
            scikit-learn's, with its messages, for the same conditions.
        ZeroDivisionError
            A mini-batch's (``solver="lbfgs"``: the whole set's) sample
            weights sum to exactly zero, after the earlier mini-batches'
            updates, as scikit-learn's fit raises it (NumPy's ``np.average``
            message first); it is also a ValueError.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self):
        return _validation.sk_partial_fit_solver(self.solver)

    # ---------------------------------------------------------- prediction
    def _forward_pass_fast(self, X, check_input=True):
        """Output activations (n_samples, n_outputs) of the fitted network."""
        if check_input:
            X = _sparse_structure(X)
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        net = self._network()
        # n_threads=None: this thread's OpenMP maximum now (a threadpool_limits
        # around the call is followed), passed to the call, not stored: two
        # threads predicting under different limits set each other's count
        nt = _validation.threads(None) if self.n_threads is None else None
        # scikit-learn's X @ coefs_ promotes: a float32 network given float64 (or
        # int64) data returns float64 (here computed in float32, then converted)
        out_dtype = np.result_type(X.dtype, net.dtype)
        if sp.issparse(X):
            # the network's sparse first-layer kernel, on X.T (CSC: examples as
            # compressed columns)
            out = net.predict_proba(X.tocsr().T, check_finite=False, n_threads=nt).T
            return np.ascontiguousarray(out, dtype=out_dtype)
        X = _in_network_dtype(X, net.dtype)
        # validate_data checked X's values (or sklearn.set_config(assume_finite=True)
        # asked for no check: NaN rows then give NaN outputs, as scikit-learn's)
        out = net.predict_proba(X.T, check_finite=False, n_threads=nt).T
        return np.ascontiguousarray(out, dtype=out_dtype)

    def _score_with_function(self, X, y, sample_weight, score_function, y_pred=None):
        if y_pred is None:
            y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


# The constructor parameters and fitted attributes, written out in full for
# help(), IDEs and scikit-learn's HTML display (which links each parameter
# to its entry here). Behaviour and defaults are scikit-learn's (1.7-1.9).
_DOC_PARAMS = """
    Parameters
    ----------{loss}
    hidden_layer_sizes : array-like of int, shape (n_layers - 2,), default=(100,)
        Units of each hidden layer, input side first: ``(100,)`` is one
        hidden layer of 100 units, ``(64, 32)`` two. ``n_layers_`` counts the
        input and output layers too.
    activation : {{"identity", "logistic", "tanh", "relu"}}, default="relu"
        The hidden layers' activation g(z): z, 1 / (1 + e^-z), tanh(z) or
        max(0, z). The output layer's is fixed by the task
        (``out_activation_``).
    solver : {{"lbfgs", "sgd", "adam"}}, default="adam"
        The training algorithm. ``"sgd"``: mini-batch stochastic gradient
        descent with (Nesterov) momentum; ``"adam"``: Adam (Kingma and Ba,
        2015) on mini-batches; ``"lbfgs"``: SciPy's L-BFGS-B on the whole
        data set's loss (full batch; often best on small data sets).
    alpha : float >= 0, default=0.0001
        Strength of the L2 penalty ``0.5 * alpha * ||W||^2 / n``, n the
        examples of the mini-batch (of the data set for L-BFGS), or the sum
        of their ``sample_weight`` when it is given (so weights scaled by 2
        halve the penalty, as in scikit-learn); the biases are not
        penalised.
    batch_size : int >= 1 or "auto", default="auto"
        Examples per mini-batch of the stochastic solvers; ``"auto"`` is
        ``min(200, n_samples)``. Larger than ``n_samples`` it is clipped to
        it, with a UserWarning. Not used by ``"lbfgs"``.
    learning_rate : {{"constant", "invscaling", "adaptive"}}, default="constant"
        Step-size schedule of ``solver="sgd"`` (only): ``"constant"`` keeps
        ``learning_rate_init``; ``"invscaling"`` sets the rate to
        ``learning_rate_init / (t + 1) ** power_t`` at the end of each epoch
        (or ``partial_fit`` call), t the examples seen so far (``t_``), and
        keeps it for the next epoch's steps (the first epoch runs at
        ``learning_rate_init``); ``"adaptive"`` divides the rate by 5 each time
        ``n_iter_no_change`` epochs in a row fail to improve the training
        loss (the validation score with ``early_stopping``) by ``tol``, and
        stops once the rate is below 1e-6.
    learning_rate_init : float > 0, default=0.001
        The initial step size of ``"sgd"`` and ``"adam"``.
    power_t : float, default=0.5
        The exponent of the ``"invscaling"`` schedule (``solver="sgd"``).
    max_iter : int >= 1, default=200
        Epochs (passes over the data) of ``"sgd"`` and ``"adam"``;
        iterations of ``"lbfgs"``. A fit that stops there without
        converging warns (``ConvergenceWarning``).
    shuffle : bool, default=True
        Shuffle the examples before each epoch (``"sgd"``, ``"adam"``).
    random_state : int, RandomState instance or None, default=None
        The random stream of the initial weights (Glorot-uniform, as
        scikit-learn draws them), the ``early_stopping`` split and the
        shuffles. An int gives the same fit every time, and the same
        initial weights, batches and split as scikit-learn with that seed.
    tol : float >= 0, default=1e-4
        Convergence threshold: the stochastic solvers stop when
        ``n_iter_no_change`` epochs in a row improve the training loss (the
        validation score with ``early_stopping``) by less than ``tol``
        (unless ``learning_rate="adaptive"``, which lowers the rate first);
        for ``"lbfgs"`` it is L-BFGS-B's ``gtol``.
    verbose : bool, default=False
        Print the loss after each epoch (``"Iteration k, loss = ..."``).
    warm_start : bool, default=False
        A new ``fit`` starts from the previous fit's parameters instead of
        new random ones (with a new optimizer state, as scikit-learn's;
        ``partial_fit`` keeps the optimizer's state).
    momentum : float in [0, 1], default=0.9
        Momentum of ``solver="sgd"``.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for ``solver="sgd"`` with ``momentum > 0``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data and stop when
        its score (``score``) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs; the parameters of the best epoch are
        kept. ``"sgd"`` and ``"adam"`` only.{stratified}
    validation_fraction : float in (0, 1), default=0.1
        The share of the training data held out with ``early_stopping``.
    beta_1 : float in [0, 1), default=0.9
        Adam's decay rate of the first-moment (mean) estimate.
    beta_2 : float in [0, 1), default=0.999
        Adam's decay rate of the second-moment (uncentred variance) estimate.
    epsilon : float > 0, default=1e-8
        Adam's term added to the square root of the second moment in the
        step's denominator.
    n_iter_no_change : int >= 1 or np.inf, default=10
        The epochs without a ``tol`` improvement that stop a stochastic
        fit (see ``tol``); ``np.inf`` never stops on ``tol`` (scikit-learn's
        constraint allows it too).
    max_fun : int >= 1, default=15000
        The most loss evaluations ``"lbfgs"`` may make (each a whole
        forward and backward pass over the data).
    n_threads : int or None, default=None
        fastbp's parameter (scikit-learn's estimators have none).
        Threads of fastbp's compiled kernels: None = all cores, or
        ``OMP_NUM_THREADS`` when that is set (taken as it is even above the
        cores, as scikit-learn's OpenMP code takes it); a negative count
        counts down from all cores (-1 = all); an n_threads above the cores
        is capped with a RuntimeWarning; 0 is a ValueError at fit. None is
        read at every fit, partial_fit and prediction, so
        ``threadpoolctl.threadpool_limits(1)`` around the call runs it on
        one thread, as scikit-learn's OpenMP estimators do.
        The results do not depend on it beyond the last bits: a step split
        between threads runs its GEMMs on row blocks, which OpenBLAS may
        round differently from the whole product (float64 coefficients
        agree to about 1e-15 relative after a few epochs); a given
        ``n_threads`` on a given machine gives the same bits every run.
        It is a maximum: fastbp times its steps and runs them on one thread
        when that is faster (a busy machine), with the same bits.
"""

_DOC_LOSS = """
    loss : {"squared_error", "poisson"}, default="squared_error"
        ``"squared_error"``: half the mean squared error over examples and
        outputs, identity output. ``"poisson"``: half the Poisson deviance
        without its constant, ``exp`` output (targets are counts or rates,
        y >= 0)."""

_DOC_ATTRS = """
    Attributes
    ----------{classes}
    loss_ : float
        The training loss of the last epoch (mean over its mini-batches,
        weighted by their sizes; the whole data set's for ``"lbfgs"``),
        L2 penalty included.
    best_loss_ : float or None
        The lowest ``loss_`` of the stochastic solvers; None with
        ``early_stopping`` (``best_validation_score_`` is kept instead).
        Not set by ``"lbfgs"``, as the three below are not (an
        AttributeError there, as in scikit-learn).
    loss_curve_ : list of float, length ``n_iter_``
        ``loss_`` after each epoch (``"sgd"``, ``"adam"``).
    validation_scores_ : list of float, length ``n_iter_``, or None
        The held-out score after each epoch with ``early_stopping``
        (accuracy for the classifier, R^2 for the regressor); else None
        (``"sgd"``, ``"adam"``).
    best_validation_score_ : float or None
        The best of ``validation_scores_``; None without ``early_stopping``
        (``"sgd"``, ``"adam"``).
    t_ : int
        Training examples seen by the stochastic solvers (the invscaling
        schedule's t).
    coefs_ : list of ndarray, length ``n_layers_ - 1``
        ``coefs_[i]``, shape (n_in, n_out), is the weight matrix from layer
        i to layer i + 1: an F-ordered view of the network's weights
        ``W[i+1].T`` (no copy). Assigning a new array to ``coefs_[i]``
        copies it into the network before its next use.
    intercepts_ : list of ndarray, length ``n_layers_ - 1``
        ``intercepts_[i]``, shape (n_out,), the biases of layer i + 1.
    n_features_in_ : int
        Features (columns of X) seen in ``fit``.
    feature_names_in_ : ndarray of str, shape (``n_features_in_``,)
        The column names of X in ``fit``, when X was a DataFrame with
        string column names.
    n_iter_ : int
        Epochs run (``"sgd"``, ``"adam"``) or L-BFGS iterations.
    n_layers_ : int
        Layers, input and output included: ``len(hidden_layer_sizes) + 2``.
    n_outputs_ : int
        Output units.
    out_activation_ : str
        The output layer's activation: {out}.
"""

_DOC_CLASSES = """
    classes_ : ndarray of shape (n_classes,), or list of such for multilabel y
        The class labels seen in ``fit`` (or given to the first
        ``partial_fit``), sorted."""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    # an expression, so assigned: a class's docstring must be a literal
    __doc__ = """Multi-layer perceptron classifier: scikit-learn's, trained by fastbp.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier`: binary,
    multiclass and multilabel targets, string labels, ``partial_fit`` with
    ``classes=``, ``predict_proba`` / ``predict_log_proba``. The loss is the
    log-loss (binary cross-entropy for a logistic output, one unit per label;
    cross-entropy for a softmax output, one unit per class) plus
    ``0.5 * alpha * ||W||^2 / n_samples`` of each mini-batch (over the sum
    of its ``sample_weight`` when given).
    """ + _DOC_PARAMS.format(
        loss="",
        stratified="\n        The split is stratified by class when each example has one label."
    ) + _DOC_ATTRS.format(
        classes=_DOC_CLASSES,
        out='``"logistic"`` (binary or multilabel y) or\n        ``"softmax"`` (multiclass)'
    ) + """
    See Also
    --------
    sklearn.neural_network.MLPClassifier : the estimator this one replaces.

    Notes
    -----
    With the same ``random_state`` and float64 data, the initial weights,
    mini-batches and validation split are scikit-learn's, and the
    parameters after training equal scikit-learn's up to floating-point
    rounding (tests/test_sklearn.py checks 1e-8 relative after 3 epochs).
    """

    _parameter_constraints: dict = {**_SK_CLASSIFIER_CONSTRAINTS,
                                    "n_threads": _N_THREADS_CONSTRAINT}

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 n_threads=None):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            loss="log_loss", shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            n_threads=n_threads)

    def _validate_input(self, X, y, incremental, reset):
        X = _sparse_structure(X)
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                _validation.sk_warm_start_classes(classes, self.classes_)
            else:
                _validation.sk_known_classes(classes, self.classes_)
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y

    def predict(self, X):
        """Predict with the multi-layer perceptron classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray, shape (n_samples,) or (n_samples, n_classes)
            The predicted classes (labels of ``classes_``).

        Raises
        ------
        ValueError
            X holds NaN or inf (unless ``sklearn.set_config(assume_finite=True)``,
            as scikit-learn), or its number of features differs from the fit's.
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        y_pred = None
        if (sample_weight is None and isinstance(y, np.ndarray) and y.ndim == 1
                and y.dtype.kind in "iub"):
            # early stopping's score, after every epoch: accuracy_score's input
            # checks (type_of_target, check_array, ...) took ~1 ms, as long as
            # a whole epoch of a small fit; integer labels of one output need
            # none of them. The value is accuracy_score's (count / n, float).
            y_pred = self._predict(X, check_input=False)
            if y_pred.shape == y.shape and y_pred.dtype == y.dtype:
                return float(np.mean(y_pred == y))
        return self._score_with_function(X, y, sample_weight=sample_weight,
                                         score_function=accuracy_score, y_pred=y_pred)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y) (scikit-learn's ``partial_fit``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            All the classes, required on the first call, multilabel y included:
            for an indicator matrix y of n_labels columns, its column indices
            ``np.arange(n_labels)`` (the ``classes_`` a ``fit`` on it sets;
            other values raise scikit-learn's "`y` has classes not in
            `self.classes_`").

        Returns
        -------
        self : object
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, shape (n_samples, n_classes).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            ``np.log(predict_proba(X))``: -inf where a probability is 0.

        Raises
        ------
        ValueError
            As :meth:`predict_proba`.
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Probability estimates, shape (n_samples, n_classes).

        Binary: ``[1 - p, p]``; multiclass: softmax; multilabel: one
        independent probability per label.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            In the order of ``classes_``, of the network's dtype.

        Raises
        ------
        ValueError
            X holds NaN or inf (unless ``sklearn.set_config(assume_finite=True)``,
            as scikit-learn), or its number of features differs from the fit's.
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        """
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = """Multi-layer perceptron regressor: scikit-learn's, trained by fastbp.

    A drop-in for :class:`sklearn.neural_network.MLPRegressor`: one or several
    targets; ``loss="squared_error"`` (``0.5 * mean`` over examples and
    outputs, identity output) or ``"poisson"`` (half the Poisson deviance
    without its constant, exp output), plus
    ``0.5 * alpha * ||W||^2 / n_samples`` of each mini-batch (over the sum
    of its ``sample_weight`` when given).
    As scikit-learn's, ``loss="poisson"`` does not refuse targets y < 0: it
    trains on the gradient ``exp(z) - y`` all the same, and ``loss_`` /
    ``loss_curve_`` (and L-BFGS's objective) are NaN, as scikit-learn's
    ``xlogy(y, y / mu)`` is there; ``best_loss_`` then stays inf and ``tol``
    never stops the fit.
    """ + _DOC_PARAMS.format(loss=_DOC_LOSS, stratified="") + _DOC_ATTRS.format(
        classes="", out='``"identity"`` (squared error) or ``"exp"``\n        (Poisson)') + """
    See Also
    --------
    sklearn.neural_network.MLPRegressor : the estimator this one replaces.
    """

    _parameter_constraints: dict = {**_SK_REGRESSOR_CONSTRAINTS,
                                    "n_threads": _N_THREADS_CONSTRAINT}

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 n_threads=None):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            loss=loss, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            n_threads=n_threads)

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            (n_samples,) for a model fitted on one target; float32 when
            both this X and the fit's were float32, else float64 (as
            scikit-learn's).

        Raises
        ------
        ValueError
            X holds NaN or inf (unless ``sklearn.set_config(assume_finite=True)``,
            as scikit-learn), or its number of features differs from the fit's.
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight=sample_weight,
                                         score_function=r2_score)

    def _validate_input(self, X, y, incremental, reset):
        X = _sparse_structure(X)
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    # scikit-learn's MLPRegressor tests `est._check_solver` without calling it,
    # so its partial_fit exists for solver="lbfgs" too (a warm-started L-BFGS
    # fit); the drop-in keeps that
    @available_if(lambda est: est._check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y) (scikit-learn's ``partial_fit``).

        With ``solver="lbfgs"``, which scikit-learn's MLPRegressor accepts
        here too, it is not one epoch but a whole L-BFGS run of up to
        ``max_iter`` iterations from the current parameters, as
        scikit-learn's (``n_iter_`` counts that run's iterations).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Real targets (non-negative for ``loss="poisson"``).
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)


# ------------------------------------------------------------------ patching
_PATCHED = {}


def patch_sklearn():
    """Make ``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor`` fastbp's.

    As scikit-learn-intelex's ``patch_sklearn``: code that imports the
    classes *after* this call (``from sklearn.neural_network import
    MLPClassifier``) gets fastbp's. Objects made before are unchanged.
    Calling it twice is harmless; :func:`unpatch_sklearn` undoes it.
    """
    import sklearn.neural_network as nn
    for name, cls in (("MLPClassifier", MLPClassifier), ("MLPRegressor", MLPRegressor)):
        current = getattr(nn, name)
        if current is not cls:
            _PATCHED.setdefault(name, current)
            setattr(nn, name, cls)


def unpatch_sklearn():
    """Restore scikit-learn's own ``MLPClassifier`` / ``MLPRegressor``."""
    import sklearn.neural_network as nn
    for name, original in list(_PATCHED.items()):
        setattr(nn, name, original)
        del _PATCHED[name]
