"""Fused dense-layer kernels: forward, backward, output delta, loss, softmax.

Every function validates its arguments once (shapes, dtypes, layouts,
``out=``; fastbp._validation), then runs one ``nogil`` kernel
(fastbp._dense, fastbp._loss): GEMMs through SciPy's BLAS
(``scipy.linalg.cython_blas``) and the element-wise work in OpenMP loops.

Threads of ``dense_forward`` / ``dense_backward``: where NumPy ships its own
pthreads OpenBLAS (the PyPI wheels), a multithreaded call runs its blocks on
the threads of NumPy's OpenBLAS pool instead of an OpenMP team, so a loop
that alternates NumPy products with these calls keeps one pool busy instead
of two pools fighting for the cores (docs/architecture.md, "Threads").
"""
from fastbp import _dense, _loss
from fastbp import _validation as _v
# The common case in one compiled call (None: not that case; the full checks
# of fastbp._validation then convert or raise). Module globals, so a call
# costs one lookup each.
from fastbp._dense import backward_plain as _backward_plain
from fastbp._dense import forward_plain as _forward_plain
from fastbp._registry import ACTIVATIONS, LOSSES

__all__ = ["ACTIVATIONS", "LOSSES", "dense_backward", "dense_forward", "loss", "output_delta",
           "softmax"]


def dense_forward(A_prev, W, b, activation="relu", *, alpha=None, out=None, n_threads=None):
    """Forward pass of one dense layer, fused.

    ``Z = W A_prev + b`` and ``A = g(Z)``: one GEMM, then the bias and the
    activation applied in a single pass over each block of the GEMM result.

    Parameters
    ----------
    A_prev : ndarray (n_prev, m), float32 or float64
        Previous layer's activations, examples as columns. C- or F-contiguous
        (``X_rows.T`` of examples-first data works without a copy).
    W : ndarray (n, n_prev)
    b : ndarray (n, 1) or (n,)
    activation : str, default "relu"
        One of ``fastbp.ACTIVATIONS``.
    alpha : float, optional
        Slope/scale of ``leaky_relu`` (default 0.01) and ``elu`` (default 1.0),
        >= 0; the other activations do not read it. Must be finite.
    out : tuple (Z, A) of C-contiguous ndarrays (n, m), optional
        Preallocated outputs (no allocation happens when given).
    n_threads : int, optional
        Threads for the GEMM and the epilogue; None uses all cores (honouring
        ``OMP_NUM_THREADS``), a negative count counts down from the cores
        (-1 all, -2 all but one, at least one), as
        :func:`fastbp.effective_n_threads` resolves them; more than the
        cores is capped at the cores with a RuntimeWarning (the kernels'
        cap: ``effective_n_threads`` itself takes a positive count as it is).
        They are NumPy's OpenBLAS pool's threads where fastbp found that
        pool (``fastbp info``), else an OpenMP team; results are the same.

    Returns
    -------
    Z : ndarray (n, m)
    A : ndarray (n, m)

    Raises
    ------
    TypeError
        Arrays that are not float32/float64 (integers, float16, say), A_prev,
        W and b of different dtypes, numpy.ma arrays with masked entries, an
        ``alpha`` that is not a real number, a non-int ``n_threads``, or
        ``out`` arrays that are not ndarrays or not of the inputs' dtype (as
        NumPy's ``out=``).
    ValueError
        Shapes that do not fit ``W A_prev + b`` (a transposed A_prev says
        which rows W needs), arrays that are not 2-D, an unknown activation,
        a negative or non-finite ``alpha``, ``out`` arrays of the wrong
        shape, not C-contiguous, read-only or overlapping an input, or
        ``n_threads=0``.

    Notes
    -----
    The activations ``g`` (:func:`fastbp.reference.activation` is their
    specification, which the kernels are tested against)::

        identity    z
        relu        max(z, 0)
        leaky_relu  z if z >= 0 else alpha z        (Maas et al. 2013)
        sigmoid     1 / (1 + exp(-z))
        tanh        tanh(z)
        elu         z if z > 0 else alpha (exp(z) - 1)        (Clevert et al. 2016)
        gelu        z Phi(z) = z erfc(-z / sqrt(2)) / 2       (Hendrycks & Gimpel 2016)
        gelu_tanh   z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))) / 2
                    (their tanh approximation; PyTorch's ``approximate="tanh"``)
        silu        z sigmoid(z)                  (Elfwing et al. 2018; Swish, beta 1)
        softplus    log(1 + exp(z))

    Values are not checked: NaN and inf propagate as they do in NumPy's
    ``g(W @ A_prev + b)``.
    """
    r = _forward_plain(A_prev, W, b, activation, alpha, out, n_threads)
    if r is not None:
        return r
    return _dense.forward(*_v.dense_forward_args(A_prev, W, b, activation, alpha, out,
                                                 n_threads))


def dense_backward(dZ, A_prev, W, activation=None, *, Z_prev=None, alpha=None, scale=None,
                   lambd=0.0, out=None, n_threads=None):
    """Backward pass of one dense layer, fused.

    ::

        dW      = scale * dZ A_prev^T + lambd * scale * W
        db      = scale * sum_j dZ[:, j]
        dZ_prev = (W^T dZ) * g'(A_prev)     (g' from Z_prev for gelu, gelu_tanh, silu)

    Two GEMMs; the bias gradient is computed next to the dW GEMM and the
    activation derivative is applied to each block of ``W^T dZ`` right after
    it is produced, so no full-size temporary is written or re-read.

    Parameters
    ----------
    dZ : ndarray (n, m), float32 or float64
        Gradient of the cost w.r.t. this layer's Z, *not* divided by m.
    A_prev : ndarray (n_prev, m)
        Input of this layer (output of the previous one).
    W : ndarray (n, n_prev)
    activation : str or None, default None
        Activation of the *previous* layer, the one that produced A_prev.
        None: return dA_prev = W^T dZ (the input layer; nothing to differentiate).
    Z_prev : ndarray (n_prev, m), optional
        Previous layer's pre-activation; required for gelu, gelu_tanh, silu,
        whose derivative the output does not determine. Not read for the
        other activations, but its shape and dtype are checked when given.
    alpha : float, optional
        Parameter of leaky_relu (0.01) / elu (1.0), >= 0; the other
        activations (and None) do not read it. Must be finite.
    scale : float, optional
        Multiplies dW and db; default 1/m, the mean over examples.
    lambd : float, default 0.0
        L2 strength with the course's convention: adds ``lambd * scale * W``
        to dW; finite, >= 0.
    out : tuple (dZ_prev, dW, db), optional
        Preallocated C-contiguous outputs of shapes (n_prev, m), (n, n_prev), (n, 1).
    n_threads : int, optional
        Threads, as in :func:`dense_forward` (NumPy's OpenBLAS pool or an
        OpenMP team); None uses all cores, a negative count counts down from
        them.

    Returns
    -------
    dZ_prev : ndarray (n_prev, m)
    dW : ndarray (n, n_prev)
    db : ndarray (n, 1)

    Raises
    ------
    TypeError
        Arrays that are not float32/float64, arrays of different dtypes,
        numpy.ma arrays with masked entries, an ``alpha``, ``scale`` or
        ``lambd`` that is not a real number, a non-int ``n_threads``, or
        ``out`` arrays that are not ndarrays or not of the inputs' dtype
        (as NumPy's ``out=``).
    ValueError
        Shapes that do not chain (dZ (n, m), A_prev (n_prev, m), W (n,
        n_prev)), a ``Z_prev`` not of A_prev's shape, an unknown
        activation, gelu / gelu_tanh / silu without ``Z_prev``, a negative
        or non-finite ``lambd`` or a non-finite ``scale``, ``out`` arrays of
        the wrong shape, not C-contiguous, read-only or overlapping an
        input, or ``n_threads=0``.

    Notes
    -----
    Values are not checked: NaN and inf propagate as in the NumPy formulas.
    """
    r = _backward_plain(dZ, A_prev, W, activation, Z_prev, alpha, scale, lambd, out, n_threads)
    if r is not None:
        return r
    return _dense.backward(*_v.dense_backward_args(dZ, A_prev, W, activation, Z_prev, alpha,
                                                   scale, lambd, out, n_threads))


def output_delta(AL, Y, loss, *, out=None, n_threads=None):
    """Output-layer delta ``dZ = AL - Y``.

    The gradient of the mean cost w.r.t. the output pre-activation, times m,
    for binary_crossentropy (sigmoid output), crossentropy (softmax output),
    mse (identity output) and poisson (exp output, ``AL = exp(Z)``): with
    these canonical links the chain rule collapses to ``AL - Y``. Feed it to
    :func:`dense_backward`, whose ``scale`` applies 1/m.

    Parameters
    ----------
    AL : ndarray (n_out, m), float32 or float64
    Y : array_like (n_out, m)
        Targets; float, int, bool or uint8 (the course's labels are uint8).
        A (m,) vector is accepted when n_out == 1.
    loss : str
        One of ``fastbp.LOSSES``.
    out : ndarray (n_out, m), optional
    n_threads : int, optional
        As in :func:`dense_forward`.

    Returns
    -------
    dZ : ndarray (n_out, m)

    Raises
    ------
    ValueError
        Y lies outside the loss's domain (see :func:`loss`; NaN is outside
        every domain but mse's, where it propagates), shapes differ (class
        indices of shape (m,) for n_out > 1 included: pass one-hot columns),
        an unknown loss, an ``out`` of the wrong shape, not C-contiguous,
        read-only or overlapping an input, or ``n_threads=0``.
    TypeError
        AL not float32/float64, Y of a non-numeric dtype, numpy.ma arrays
        with masked entries, a non-int ``n_threads``, or an ``out`` that is
        not an ndarray of AL's dtype.
    """
    return _loss.output_delta(*_v.output_delta_args(AL, Y, loss, out, n_threads))


def loss(AL, Y, loss, *, from_logits=False):
    """Mean cost over the m examples (columns).

    From the probabilities (the default), logs clipped so the cost is finite::

        binary_crossentropy: -1/m sum [Y log AL + (1 - Y) log(1 - AL)]
        crossentropy:        -1/m sum Y log AL
        mse:                  1/(2m) sum (AL - Y)^2
        poisson:              1/m sum [AL - Y log AL + (Y log Y - Y)]   (AL: the mean)

    ``log(x)`` is evaluated as ``log(max(x, tiny))`` with ``tiny`` the
    dtype's smallest normal number, so a saturated probability gives at most
    ``-log(tiny)`` (87.3 in float32, 708.4 in float64) per element, not the
    true cost.

    With ``from_logits=True`` the first argument is the output layer's
    pre-activation Z and the cost is exact, however large ``|Z|``::

        binary_crossentropy: 1/m sum [max(Z, 0) - Z Y + log1p(exp(-|Z|))]
        crossentropy:        1/m sum_j [logsumexp(Z[:, j]) - sum_i Y[i, j] Z[i, j]]
        mse:                  1/(2m) sum (Z - Y)^2
        poisson:              1/m sum [exp(Z) - Y Z + (Y log Y - Y)]

    (the linear terms formed in float64; the exponentials and logs in the
    array's dtype, each to a few ulps of its own size, then summed in
    float64, so a small cost keeps its relative precision: a confident
    prediction's ``log1p(exp(-12))`` to about 1e-7 of itself in float32). A
    keyword of the same
    function, not a second one, because it is the convention users know
    (Keras's ``from_logits=True``; PyTorch's ``BCEWithLogitsLoss`` is the
    same formula) and both forms share the targets, the reduction and the
    checks. The Poisson term is the half Poisson deviance of scikit-learn's
    ``sklearn.neural_network._base.poisson_loss``, reduced the same way (mean
    over examples, summed over outputs); sums are accumulated in float64.

    Parameters
    ----------
    AL : ndarray (n_out, m), float32 or float64
        Probabilities (or the mean, for poisson), or the logits Z with
        ``from_logits=True``.
    Y : array_like (n_out, m); float, int, bool or uint8
        binary_crossentropy: values in [0, 1]; crossentropy: non-negative
        columns summing to 1 (one-hot or probabilities); poisson:
        non-negative finite values; mse: any. A (m,) vector is accepted
        when n_out == 1.
    loss : str
        One of ``fastbp.LOSSES``.
    from_logits : bool, default False

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Y outside the loss's domain (the message names the values found;
        NaN is outside every domain but mse's, where it gives a NaN cost),
        or shapes that differ (class indices of shape (m,) for n_out > 1
        included: pass one-hot columns), or an unknown loss. NaN in AL is
        not checked: the cost is then NaN.
    TypeError
        AL not float32/float64, Y of a non-numeric dtype, numpy.ma arrays
        with masked entries, or ``from_logits`` not True or False.
    """
    args = _v.loss_args(AL, Y, loss, from_logits)
    if from_logits:
        total, _ = _loss.loss_logits(*args)
        return total / args[0].shape[1]
    return _loss.loss(*args)


def softmax(Z, *, out=None, n_threads=None):
    """Column-wise softmax, ``A[:, j] = exp(Z[:, j] - max_i Z[i, j]) / sum_i(...)``.

    Parameters
    ----------
    Z : ndarray (n, m), float32 or float64
    out : ndarray (n, m), optional (may not be Z itself)
    n_threads : int, optional
        As in :func:`dense_forward`.

    Returns
    -------
    A : ndarray (n, m)

    Raises
    ------
    TypeError
        Z not float32/float64, a numpy.ma array with masked entries, a
        non-int ``n_threads``, or an ``out`` that is not an ndarray of Z's
        dtype.
    ValueError
        Z not 2-D, an ``out`` of the wrong shape, not C-contiguous,
        read-only or overlapping Z, or ``n_threads=0``.
    """
    return _loss.softmax(*_v.softmax_args(Z, out, n_threads))
