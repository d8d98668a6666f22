"""Optimizers and learning-rate schedules for :class:`fastbp.Network`.

Each optimizer's update is one fused compiled loop over the network's flat
parameter and gradient buffers (see ``fastbp/_network.pyx``); its state
(velocity, second moments) is one flat buffer of the same size. The formulas
are the Deep Learning Specialization's (course 2, week 2)::

    SGD        W -= lr dW
    momentum   v = beta v + (1 - beta) dW;            W -= lr v
    Nesterov   v = beta v + (1 - beta) dW;            W -= lr (beta v + (1 - beta) dW)
    Adam       v = beta1 v + (1 - beta1) dW;          s = beta2 s + (1 - beta2) dW^2
               v_hat = v / (1 - beta1^t);             s_hat = s / (1 - beta2^t)
               W -= lr v_hat / (sqrt(s_hat) + eps)    (t counts updates from 1)

Note the course's momentum is an exponential average of the gradients
(``(1 - beta) dW``), not PyTorch's ``v = mu v + dW``: with the same ``lr`` its
steps are ``1 - beta`` times smaller.

The *step* forms are the other common way to write momentum and Adam
(scikit-learn's ``neural_network._stochastic_optimizers``, Keras's ``SGD`` and
``Adam``), selected by ``SGD(velocity="step")`` and
``Adam(bias_correction="step")``::

    momentum   v = mu v - lr dW;                      W += v
    Nesterov   v = mu v - lr dW;                      W += mu v - lr dW
    Adam       m = beta1 m + (1 - beta1) dW;          s = beta2 s + (1 - beta2) dW^2
               lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)
               W -= lr_t m / (sqrt(s) + eps)

The step-form velocity carries the learning rate inside it (Sutskever et
al. 2013, "On the importance of initialization and momentum in deep
learning", eqs. 1-2; the Nesterov line is Bengio et al. 2013's reformulation,
"Advances in optimizing recurrent networks", eq. 7), so a changed ``lr`` acts
on the new gradients only. The step-form Adam is Kingma & Ba 2015 ("Adam: a
method for stochastic optimization"), end of section 2: the bias corrections
folded into the step size, so ``eps`` is added to ``sqrt(s)``, not to
``sqrt(s_hat)``; results differ from the course's Adam when ``sqrt(s)`` is
not large against ``eps``.

Every optimizer reads :attr:`Optimizer.lr` at each update: setting it between
steps (as scikit-learn's ``invscaling`` and ``adaptive`` schedules do) takes
effect at the next update.

Learning-rate schedules map (initial rate, epoch) to the rate for that epoch;
:meth:`Network.fit` applies them at the start of every epoch.
"""
import math
import numbers
import warnings
import weakref

import numpy as np

from fastbp._network import aligned_zeros
from fastbp._openmp_helpers import user_stacklevel
from fastbp._registry import OPTIMIZERS as _OPT_CODES
from fastbp._validation import (FixedAfterInit, check_choice, check_count, check_positive_int,
                                check_real)

#: the optimizer names of get_optimizer and of Optimizer.get_config()["kind"]
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adam")
#: SGD's velocity forms (``SGD(velocity=...)``)
VELOCITY_FORMS = ("average", "step")
#: Adam's bias-correction forms (``Adam(bias_correction=...)``)
BIAS_CORRECTIONS = ("moments", "step")

__all__ = [
    "OPTIMIZER_NAMES", "VELOCITY_FORMS", "BIAS_CORRECTIONS", "Optimizer", "SGD", "Adam", "LRSchedule", "InverseTimeDecay", "StepDecay",
    "ExponentialDecay", "update_lr", "schedule_lr_decay", "get_optimizer",
]


def _aligned_copy(a):
    """``a`` if it is a writable, C-contiguous ndarray on a 64-byte boundary,
    else a copy that is (the state the kernel updates in place)."""
    if (type(a) is np.ndarray and a.flags.writeable and a.flags.c_contiguous
            and a.ctypes.data % 64 == 0):
        return a
    out = aligned_zeros(a.shape[0], a.dtype)
    out[...] = a
    return out


# ------------------------------------------------------------------ schedules

# The course's two functions, with its arithmetic (1 / (...) * lr0), so their
# results equal the course's bit for bit; fastbp.course re-exports them.

def update_lr(learning_rate0, epoch_num, decay_rate):
    """The course's inverse-time decay: ``lr0 / (1 + decay_rate * epoch_num)``.

    Deep Learning Specialization, course 2 week 2 ("Optimization Methods",
    learning rate decay), with its operations in its order.

    Parameters
    ----------
    learning_rate0 : float
        The initial learning rate.
    epoch_num : int
        The epoch, counted from 0.
    decay_rate : float
        The decay rate, >= 0.

    Returns
    -------
    float
        The learning rate for ``epoch_num``. Not validated (the course's
        function): NumPy arrays broadcast as NumPy does.
    """
    return 1 / (1 + decay_rate * epoch_num) * learning_rate0


def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
    """The course's scheduled decay: ``lr0 / (1 + decay_rate * floor(epoch_num / time_interval))``.

    Deep Learning Specialization, course 2 week 2 ("Optimization Methods",
    fixed interval scheduling), with its operations in its order.

    Parameters
    ----------
    learning_rate0 : float
        The initial learning rate.
    epoch_num : int
        The epoch, counted from 0.
    decay_rate : float
        The decay rate, >= 0.
    time_interval : int, default 1000
        Epochs between two decays.

    Returns
    -------
    float
        The learning rate for ``epoch_num``. Not validated (the course's
        function).
    """
    return 1 / (1 + decay_rate * math.floor(epoch_num / time_interval)) * learning_rate0


def _short_repr(value, limit=60):
    """repr(value) cut to ``limit`` characters, for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _power(gamma, k):
    """gamma ** k, inf when it overflows (gamma > 1 over many epochs): Python's
    float power raises OverflowError there; Optimizer.set_epoch then says which
    epoch gave a non-finite rate."""
    try:
        return gamma ** k
    except OverflowError:
        return math.inf


def _schedule_in_config(schedule):
    """Whether an optimizer's JSON config holds ``schedule``: one of this
    module's schedules, which :func:`schedule_from_config` rebuilds. A
    subclass of yours is held as a plain callable is (its get_config, if
    any, names a kind schedule_from_config does not know)."""
    return type(schedule) in _SCHEDULES.values()


def schedule_function_name(schedule):
    """The name of a learning-rate schedule that is a plain callable or an
    LRSchedule subclass of the user's (which an optimizer's JSON config
    cannot hold: checkpoints and the data-parallel setup exchange name it
    instead), else None."""
    if schedule is None or _schedule_in_config(schedule):
        return None
    return getattr(schedule, "__qualname__", type(schedule).__qualname__)


class LRSchedule:
    """Base class: ``schedule(lr0, epoch) -> lr`` with ``epoch`` counted from 0."""

    def __call__(self, lr0, epoch):
        raise NotImplementedError

    def get_config(self):
        """JSON-able description, the inverse of :func:`schedule_from_config`.

        Returns
        -------
        dict
            ``{"kind": class name, <constructor argument>: value, ...}``.
        """
        raise NotImplementedError

    def __repr__(self):
        try:
            cfg = dict(self.get_config())
        except NotImplementedError:       # a subclass without one
            return object.__repr__(self)
        kind = cfg.pop("kind")
        return f"{kind}(" + ", ".join(f"{k}={v!r}" for k, v in cfg.items()) + ")"


class InverseTimeDecay(LRSchedule):
    """``1 / (1 + decay_rate * floor(epoch / time_interval)) * lr0``.

    ``time_interval=1`` is the course's ``update_lr``; ``time_interval=1000``
    its ``schedule_lr_decay`` (the same operations in the same order, so the
    same bits).

    Parameters
    ----------
    decay_rate : float
        >= 0, finite.
    time_interval : int, default 1
        Epochs between two decays, >= 1.

    Raises
    ------
    ValueError
        ``decay_rate`` negative or not finite, ``time_interval`` < 1.
    TypeError
        ``decay_rate`` not a real number, ``time_interval`` not an int.

    Examples
    --------
    >>> from fastbp.optim import InverseTimeDecay, schedule_lr_decay, update_lr
    >>> InverseTimeDecay(0.3, time_interval=1000)(0.1, 2500) == schedule_lr_decay(0.1, 2500, 0.3)
    True
    >>> InverseTimeDecay(1.0)(0.1, 3) == update_lr(0.1, 3, 1.0)
    True
    """

    def __init__(self, decay_rate, time_interval=1):
        self.decay_rate = check_real("decay_rate", decay_rate, low=0.0)
        self.time_interval = check_positive_int("time_interval", time_interval)

    def __call__(self, lr0, epoch):
        return 1 / (1 + self.decay_rate * (epoch // self.time_interval)) * lr0

    def get_config(self):
        return {"kind": "InverseTimeDecay", "decay_rate": self.decay_rate,
                "time_interval": self.time_interval}


class StepDecay(LRSchedule):
    """``lr0 * gamma ** floor(epoch / step_size)``: multiply by gamma every step_size epochs.

    PyTorch's ``torch.optim.lr_scheduler.StepLR``, per epoch.

    Parameters
    ----------
    step_size : int
        Epochs between two decays, >= 1.
    gamma : float, default 0.1
        The factor, > 0 and finite.

    Raises
    ------
    ValueError
        ``step_size`` < 1, ``gamma`` <= 0 or not finite.
    TypeError
        ``step_size`` not an int, ``gamma`` not a real number.
    """

    def __init__(self, step_size, gamma=0.1):
        self.step_size = check_positive_int("step_size", step_size)
        self.gamma = check_real("gamma", gamma, low=0.0, low_open=True)

    def __call__(self, lr0, epoch):
        return lr0 * _power(self.gamma, epoch // self.step_size)

    def get_config(self):
        return {"kind": "StepDecay", "step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(LRSchedule):
    """``lr0 * gamma ** epoch``.

    PyTorch's ``torch.optim.lr_scheduler.ExponentialLR``, per epoch.

    Parameters
    ----------
    gamma : float
        The factor per epoch, > 0 and finite.

    Raises
    ------
    ValueError
        ``gamma`` <= 0 or not finite.
    TypeError
        ``gamma`` not a real number.
    """

    def __init__(self, gamma):
        self.gamma = check_real("gamma", gamma, low=0.0, low_open=True)

    def __call__(self, lr0, epoch):
        return lr0 * _power(self.gamma, epoch)

    def get_config(self):
        return {"kind": "ExponentialDecay", "gamma": self.gamma}


_SCHEDULES = {c.__name__: c for c in (InverseTimeDecay, StepDecay, ExponentialDecay)}


def schedule_from_config(cfg):
    """Rebuild a schedule from :meth:`LRSchedule.get_config` output (or None)."""
    if cfg is None:
        return None
    cfg = dict(cfg)
    kind = cfg.pop("kind", None)
    if kind not in _SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {kind!r}; valid: {sorted(_SCHEDULES)}")
    return _SCHEDULES[kind](**cfg)


# ----------------------------------------------------------------- optimizers

#: Optimizer._owner after a copy or unpickling: bound to a network not here
_PICKLED = "pickled"

#: attributes held under a leading underscore behind a property (pickles
#: made before they were properties hold them under their own names)
_PROPERTIES = ("lr", "lr0", "t", "schedule", "momentum", "nesterov", "velocity",
               "beta1", "beta2", "eps", "bias_correction")


def _fixed_advice(cls_name, name):
    return (f"{cls_name}.{name} is fixed at construction (it decides the update and the "
            f"state the optimizer keeps): make a new optimizer, e.g. {cls_name}(lr, "
            f"{name}=...), or set lr, lr0 or schedule")


def _fixed(name):
    """A hyperparameter fixed at construction: read-only. Assigned, it was
    silently ignored (``SGD(0.1).momentum = 0.9`` trained plain SGD: the
    kind and the state kept are chosen at construction) or broke the next
    update (``Adam().beta1 = 1.0``: ZeroDivisionError)."""
    return FixedAfterInit("_", _fixed_advice, doc=f"``{name}`` as constructed (read-only).")


def _checked(name, check, doc):
    """A property kept under ``_name`` whose assignments pass ``check(name,
    value)`` first (the constructor's check for that argument)."""
    slot = "_" + name

    def get(self):
        return self.__dict__[slot]

    def set_(self, value):
        self.__dict__[slot] = check(name, value)

    return property(get, set_, doc=doc)


def _check_rate(name, value):
    return check_real(name, value, low=0.0, low_open=True)


def _check_t(name, value):
    return check_count(name, value, 2**63)


def _check_schedule(schedule):
    if schedule is not None and not callable(schedule):
        raise TypeError("schedule must be an LRSchedule (or a callable (lr0, epoch) -> lr), "
                        f"got {type(schedule).__name__}")
    if isinstance(schedule, type) and issubclass(schedule, LRSchedule):
        # callable, but calling it makes a schedule: StepDecay(lr0, epoch)
        # failed at fit's first epoch with "step_size must be a positive int"
        raise TypeError(f"schedule got the class {schedule.__name__}, not a schedule: "
                        f"pass {schedule.__name__}(...)")
    return schedule

class Optimizer:
    """Base class. State buffers are bound to one network on first use.

    Parameters
    ----------
    lr : float
        The initial learning rate, > 0 and finite.
    schedule : LRSchedule or callable, optional
        ``schedule(lr0, epoch) -> lr``, applied by ``fit`` at each epoch.

    Attributes
    ----------
    lr : float
        The learning rate in force (after the schedule, if any).
    lr0 : float
        The initial learning rate the schedule starts from.
    t : int
        Number of updates made so far.
    schedule : LRSchedule, callable or None

    ``lr``, ``lr0``, ``t`` and ``schedule`` may be assigned (checked as the
    constructor checks them; ``t`` a non-negative int); the hyperparameters
    that decide the update (``momentum``, ``nesterov``, ``velocity``,
    ``beta1``, ``beta2``, ``eps``, ``bias_correction``) are read-only: an
    assignment raises AttributeError instead of being ignored.

    Raises
    ------
    ValueError
        ``lr`` <= 0, NaN or infinite.
    TypeError
        ``lr`` not a real number; a ``schedule`` that is not callable, or an
        LRSchedule class instead of an instance.
    """

    kind = "none"
    n_state = 0

    def __init__(self, lr, schedule=None):
        self._lr0 = check_real("lr", lr, low=0.0, low_open=True)
        self._lr = self._lr0
        self._schedule = _check_schedule(schedule)
        self._t = 0
        self._state = None        # tuple of flat arrays, or None
        # the bound network's flat parameter buffer, by weak reference (an id
        # could be reused by a later network: its state would then be taken
        # for the new one's); _PICKLED after a copy or unpickling; None: never bound
        self._owner = None

    def __getstate__(self):
        state = dict(self.__dict__)
        if state["_owner"] is not None:
            state["_owner"] = _PICKLED    # a weak reference does not pickle or copy
        return state

    def __setstate__(self, state):
        state = dict(state)
        for name in _PROPERTIES:    # pickled before it was a property
            if name in state:
                state["_" + name] = state.pop(name)
        self.__dict__.update(state)

    def __copy__(self):
        """``copy.copy(opt)``: the state buffers copied (the schedule shared).

        A shallow copy shared them with the original: each one's updates
        moved the other's moments under an update count that did not follow,
        and the snapshot trained differently from an untouched twin.
        """
        new = type(self).__new__(type(self))
        new.__setstate__(self.__getstate__())
        if new._state is not None:
            new._state = tuple(s.copy() for s in new._state)
        return new

    lr = _checked("lr", _check_rate, """The learning rate in force: a finite float > 0.

        ``fit`` sets it from the schedule at each epoch; set it yourself
        between updates (``opt.lr = 0.01``) to change the rate of the next
        ones. ``lr0``, the rate the schedule starts from, is unchanged.

        Raises
        ------
        TypeError
            On assignment of a non-number (a str, a bool, an array).
        ValueError
            On assignment of a value <= 0, NaN or infinite (a negative rate
            would climb the loss; zero would silently train nothing).
        """)
    lr0 = _checked("lr0", _check_rate, """The rate the schedule starts from (the
        constructor's ``lr``); assigned, checked as ``lr`` (a later epoch's rate
        follows it).""")
    t = _checked("t", _check_t, """Updates made so far (the bias corrections' step
        count); assigned, a non-negative int (0 restarts the corrections, not the
        moments). :meth:`advance` counts updates a network has made.""")
    schedule = _checked("schedule", lambda name, value: _check_schedule(value),
                        """The learning-rate schedule (None: a constant rate); assigned,
        checked as the constructor's.""")

    def advance(self, n=1):
        """Count ``n`` more updates: ``t += n``.

        The network calls it after its kernel made ``n`` updates with this
        optimizer's state: the cheap path for every step (one type check and
        one add; the bound is checked only near it), where ``t``'s setter
        checks its value in full.

        Parameters
        ----------
        n : int, default 1
            Updates made, >= 0.

        Raises
        ------
        ValueError
            ``n`` negative, or ``t + n`` beyond 2**63 - 1.
        TypeError
            ``n`` not an int.
        """
        if type(n) is not int or n < 0:
            n = check_count("n", n, 2**63)
        t = self._t + n
        self._t = _check_t("t + n", t) if t >= 2**63 else t

    def _owner_buffer(self):
        """The bound network's parameter buffer while it lives, else None."""
        return self._owner() if isinstance(self._owner, weakref.ref) else None

    def unbind(self):
        """Forget the bound network, keeping the state and update count: the
        next network bound starts from zero buffers but ``t`` as it is (the
        caller copies the state in; fastbp.sklearn does on a rebuild)."""
        self._owner = None

    def bound_elsewhere(self, key):
        """Whether the state belongs to another live network than the one
        whose flat parameter buffer is ``key`` (Network.save refuses to
        write it as that network's). Never for an optimizer without state
        buffers (plain SGD): there is nothing of another network's to write.

        Parameters
        ----------
        key : ndarray
            A network's flat parameter buffer.

        Returns
        -------
        bool
        """
        owner = self._owner_buffer()
        return (self.n_state > 0 and self._state is not None and owner is not None
                and owner is not key)

    # -- interface used by fastbp.Network -----------------------------------
    def check_dtype(self, dtype):
        """Raise ValueError when a setting cannot work in a network of ``dtype``
        (Adam's ``eps`` that is 0 in float32). :meth:`bind` checks it; a fit
        checks it before training starts (with ``comm=``, before the ranks'
        setup exchange, so every rank raises it).

        Parameters
        ----------
        dtype : numpy.dtype
            The network's dtype, float32 or float64.

        Raises
        ------
        ValueError
            A setting that rounds to an unusable value in ``dtype``.
        """

    @property
    def state(self):
        """The tuple of state buffers bound last (None before the first bind)."""
        return self._state

    def bind(self, n_params, dtype, key):
        """The state buffers for the network whose flat parameter buffer is
        ``key`` (n_params of dtype), allocated on the first bind to it.

        Bound before to another network: a fresh state and ``t = 0``, as a
        new optimizer (with a RuntimeWarning while that network still lives
        and the state holds updates: one optimizer trains one network).

        A copy (``copy.deepcopy``, ``pickle``) of an optimizer that has made
        updates keeps them: bound to a network of the same size and dtype
        (the one it trained, or a copy of it), it continues from its ``t``
        and state, as a copied PyTorch or Keras optimizer does; bound to
        another size or dtype, it starts over (``t = 0``).

        Parameters
        ----------
        n_params : int
            Size of the network's flat parameter buffer.
        dtype : numpy.dtype
            The network's dtype, float32 or float64.
        key : ndarray (n_params,)
            The network's flat parameter buffer (held by weak reference).

        Returns
        -------
        tuple of ndarray (n_params,)
            ``n_state`` buffers of ``dtype``: none for plain SGD, the
            velocity for momentum and Nesterov, (v, s) for Adam.

        Raises
        ------
        ValueError
            See :meth:`check_dtype`.
        """
        owner = self._owner_buffer()
        if owner is key and self._state is not None:
            return self._state
        self.check_dtype(np.dtype(dtype))
        if (isinstance(self._owner, str) and self._state is not None   # _PICKLED
                and all(s.shape == (n_params,) and s.dtype == dtype for s in self._state)):
            # the kernel updates the state in place: a read-only copy (joblib.load
            # with mmap_mode="r") is copied into memory first, and every copy
            # lands on cache lines as a new state does (aligned_zeros)
            self._state = tuple(_aligned_copy(s) for s in self._state)
            self._owner = weakref.ref(key)
            return self._state
        if self._state is not None and self._owner is not None:
            if owner is not None and self.t > 0 and self.n_state > 0:
                warnings.warn(
                    f"this {type(self).__name__} holds the state of {self.t} updates of "
                    "another network, which is discarded: it starts over (t = 0) for this "
                    "one. Give each network its own optimizer: a new one such as "
                    f"{self!r} (a copy.deepcopy of this one would carry its updates' "
                    "state along)", RuntimeWarning,
                    stacklevel=user_stacklevel())
            self.t = 0
        # on cache lines, as the parameters are (fastbp._network.aligned_zeros)
        self._state = tuple(aligned_zeros(n_params, dtype) for _ in range(self.n_state))
        self._owner = weakref.ref(key)
        return self._state

    def kernel_args(self, t):
        """(code, lr, beta1, beta2, eps, c1, c2) for the compiled update at update t.

        c1, c2 are Adam's bias corrections: ``1 / (1 - beta1^t)``, ``1 / (1 -
        beta2^t)`` for the course's form, ``sqrt(1 - beta2^t)``, ``1 -
        beta1^t`` for the step form (the kernel recomputes them per step when
        it runs several steps in one call); 1.0 for the others.

        Parameters
        ----------
        t : int
            The update's count, from 1.

        Returns
        -------
        tuple
            ``(code, lr, beta1, beta2, eps, c1, c2)``: an int and six floats.
        """
        raise NotImplementedError

    def set_epoch(self, epoch):
        """Apply the schedule for ``epoch`` (counted from 0); returns the new lr.

        Parameters
        ----------
        epoch : int
            Counted from 0.

        Returns
        -------
        float
            The learning rate in force (``lr``; unchanged without a schedule).

        Raises
        ------
        TypeError
            The schedule returned something other than a real number.
        ValueError
            The schedule returned a rate <= 0, NaN or infinite.
        """
        if self.schedule is not None:
            lr = self.schedule(self.lr0, epoch)
            where = f"at epoch {epoch} (counted from 0: fit's epoch {epoch + 1})"
            if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, numbers.Real):
                raise TypeError(f"the learning-rate schedule returned {type(lr).__name__} "
                                f"{_short_repr(lr)} {where}; it must return a number "
                                "(schedule(lr0, epoch) -> lr)")
            try:
                lr = float(lr)
            except OverflowError:       # an int beyond float's range (10**400)
                lr = math.inf
            if not (math.isfinite(lr) and lr > 0):
                raise ValueError(f"the learning-rate schedule gave lr={lr} {where}; "
                                 "it must stay positive and finite")
            self._lr = lr
        return self._lr

    # -- serialisation -----------------------------------------------------
    def get_config(self):
        """JSON-able description, the inverse of :func:`optimizer_from_config`.

        Returns
        -------
        dict
            ``kind``, ``lr`` (``lr0``), the hyperparameters and ``schedule``
            (a schedule's config, or None for none or a schedule of the
            user's, which JSON cannot hold).
        """
        cfg = {"kind": self.kind, "lr": self.lr0}
        cfg.update(self._hyper())
        cfg["schedule"] = (self.schedule.get_config()
                           if _schedule_in_config(self.schedule) else None)
        return cfg

    def _hyper(self):
        return {}

    def state_arrays(self):
        """The state buffers (empty tuple before the first update).

        Returns
        -------
        tuple of ndarray (n_params,)
        """
        return tuple(self._state) if self._state is not None else ()

    def __repr__(self):
        # lr: the rate in force, which an assignment (opt.lr = ..., in a
        # callback say) or the schedule has set; showing the constructor's
        # lr0 there made printing net.optimizer after opt.lr = 1e-4 read
        # lr=0.001. lr0 (the schedule's start, what get_config and a resume's
        # comparison hold) follows when it differs.
        cfg = self.get_config()
        cfg.pop("kind")
        cfg["lr"] = self.lr
        cfg.pop("schedule")
        if self.schedule is not None:
            cfg["schedule"] = self.schedule
        if self.lr0 != self.lr:
            cfg["lr0"] = self.lr0
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in cfg.items()) + ")"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate (> 0). May be changed between updates (``opt.lr = ...``,
        checked as here).
    momentum : float, default 0.0
        ``velocity="average"``: the course's ``beta`` in ``v = beta v + (1 -
        beta) dW``, in [0, 1). ``velocity="step"``: ``mu`` in ``v = mu v - lr
        dW``, in [0, 1]. 0 is plain SGD.
    nesterov : bool, default False
        Nesterov's look-ahead: step along ``beta v + (1 - beta) dW``
        (average) or ``mu v - lr dW`` (step) instead of ``v``. Needs
        ``momentum > 0``.
    velocity : {"average", "step"}, default "average"
        ``"average"``: the course's (Deep Learning Specialization, course 2,
        week 2) exponential average of the gradients, ``W -= lr v``.
        ``"step"``: the velocity is the parameter step, ``v = mu v - lr dW;
        W += v`` (Sutskever et al. 2013, eqs. 1-2; Nesterov: Bengio et al.
        2013, eq. 7), as scikit-learn's ``SGDOptimizer`` and Keras's ``SGD``.
        With a constant ``lr`` the step form equals PyTorch's ``SGD``
        (dampening 0); after ``lr`` changes, the velocity keeps the old rate.
    schedule : LRSchedule or callable, optional
        ``schedule(lr0, epoch) -> lr``, applied by ``fit`` at each epoch.

    Raises
    ------
    ValueError
        ``lr <= 0``, ``momentum`` out of range, ``nesterov`` without momentum,
        an unknown ``velocity``.
    TypeError
        ``nesterov`` not a bool, ``momentum`` or ``lr`` not a number, a
        ``schedule`` that is not callable (or an LRSchedule class).

    Notes
    -----
    The compiled update flushes subnormal numbers to zero (see
    :class:`Adam`'s Notes): a weight whose gradient stays 0 has its velocity
    decay as ``v = momentum v``, which otherwise sticks at the smallest
    subnormal numbers and slows every later update on Intel cores.
    """

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, *, velocity="average",
                 schedule=None):
        super().__init__(lr, schedule)
        self._velocity = check_choice("velocity", velocity, VELOCITY_FORMS)
        self._momentum = check_real("momentum", momentum, low=0.0, high=1.0,
                                    high_open=velocity == "average")
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool, got {type(nesterov).__name__} "
                            f"{nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0 (e.g. SGD(lr, momentum=0.9, "
                             "nesterov=True))")
        self._nesterov = bool(nesterov)
        if self.momentum == 0.0:
            self.kind, self.n_state = "sgd", 0
        else:
            self.kind, self.n_state = ("nesterov" if self.nesterov else "momentum"), 1
        self._code = _OPT_CODES[self.kind if self.kind == "sgd" or velocity == "average"
                                else self.kind + "_step"]

    momentum = _fixed("momentum")
    nesterov = _fixed("nesterov")
    velocity = _fixed("velocity")

    def _hyper(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov, "velocity": self.velocity}

    def kernel_args(self, t):
        return (self._code, self.lr, self.momentum, 0.0, 0.0, 1.0, 1.0)


class Adam(Optimizer):
    """Adam, with the course's bias correction or Kingma & Ba's step form.

    Parameters
    ----------
    lr : float, default 1e-3
        Learning rate (> 0). May be changed between updates (``opt.lr = ...``,
        checked as here).
    beta1 : float, default 0.9
        Decay of the first-moment average, in [0, 1).
    beta2 : float, default 0.999
        Decay of the second-moment average, in [0, 1).
    eps : float, default 1e-8
        Added to ``sqrt(s_hat)`` ("moments") or to ``sqrt(s)`` ("step"); > 0.
    bias_correction : {"moments", "step"}, default "moments"
        ``"moments"``: ``W -= lr v_hat / (sqrt(s_hat) + eps)`` with
        ``v_hat = v / (1 - beta1^t)``, ``s_hat = s / (1 - beta2^t)`` (Kingma &
        Ba 2015, Algorithm 1; the course's, PyTorch's). ``"step"``: ``W -=
        lr_t v / (sqrt(s) + eps)`` with ``lr_t = lr sqrt(1 - beta2^t) / (1 -
        beta1^t)`` (Kingma & Ba 2015, end of section 2; scikit-learn's
        ``AdamOptimizer``, Keras's ``Adam``). The two differ only through
        where ``eps`` sits.
    schedule : LRSchedule or callable, optional
        ``schedule(lr0, epoch) -> lr``, applied by ``fit`` at each epoch.

    Raises
    ------
    ValueError
        ``lr <= 0``, betas outside [0, 1), ``eps <= 0`` (0 would make 0 / 0 =
        NaN of every parameter whose gradient is exactly 0), an unknown
        ``bias_correction``; NaN or infinite settings. When training starts,
        an ``eps`` that rounds to 0 in the network's dtype (below 1.4e-45
        in float32).
    TypeError
        ``lr``, a beta or ``eps`` not a number, a ``schedule`` that is not
        callable (or an LRSchedule class).

    Notes
    -----
    The compiled update flushes subnormal numbers (below 1.2e-38 in
    float32, 2.2e-308 in float64) to zero, as TensorFlow and XLA do on the
    CPU. A weight whose gradient stays exactly 0 (an input feature that is
    always 0, a dead ReLU unit) has its first moment decay as ``v = beta1
    v``, which gets stuck at the smallest subnormal numbers (0.9 times 4.9e-324
    rounds back to it) for the rest of training, and Intel cores run every
    instruction that touches one through a microcode assist: a digits fit
    ran its update 2.3x slower from about the 150th epoch on. The flush sets
    such a moment to 0; the step it drops, at most ``lr c1 2.2e-308 / eps``
    (float64; ``c1 = 1 / (1 - beta1^t)``), changes a weight only below
    about ``2^53`` times that (2e-286 at the defaults; 2e-25 in float32), so
    the results stay scikit-learn's and the course's. The same holds for
    :class:`SGD`'s velocity. An ``eps`` too small for a flushed second
    moment to vanish in ``sqrt(s) + eps`` (below about 1.2e-10 in float32,
    8.5e-137 in float64) turns the flush off for that update: the
    formulas' exact steps, without the speed-up.
    """

    kind = "adam"
    n_state = 2

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, *, bias_correction="moments",
                 schedule=None):
        super().__init__(lr, schedule)
        self._beta1 = check_real("beta1", beta1, low=0.0, high=1.0, high_open=True)
        self._beta2 = check_real("beta2", beta2, low=0.0, high=1.0, high_open=True)
        # > 0, as scikit-learn's epsilon: with eps = 0 a parameter whose
        # gradient has been exactly 0 so far (a dead ReLU unit, an all-zero
        # feature) gets 0 / 0 = NaN at its first update
        self._eps = check_real("eps", eps, low=0.0, low_open=True)
        self._bias_correction = check_choice("bias_correction", bias_correction,
                                             BIAS_CORRECTIONS)

    beta1 = _fixed("beta1")
    beta2 = _fixed("beta2")
    eps = _fixed("eps")
    bias_correction = _fixed("bias_correction")

    def check_dtype(self, dtype):
        dtype = np.dtype(dtype)
        # a subnormal eps is fine: its updates run unflushed (csrc/fastbp_optim.h)
        if dtype.type(self.eps) == 0:
            raise ValueError(f"eps={self.eps} is 0 in {dtype}, the network's dtype, which "
                             "makes 0 / 0 = NaN of every parameter whose gradient is exactly "
                             f"0: use eps >= {np.finfo(dtype).smallest_subnormal:.3g} "
                             "(the default 1e-8 works in both dtypes)")

    def _hyper(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                "bias_correction": self.bias_correction}

    def kernel_args(self, t):
        if self.bias_correction == "step":
            # the kernel forms lr_t = lr c1 / c2 in this order (scikit-learn's)
            return (_OPT_CODES["adam_step"], self.lr, self.beta1, self.beta2, self.eps,
                    math.sqrt(1.0 - self.beta2 ** t), 1.0 - self.beta1 ** t)
        c1 = 1.0 / (1.0 - self.beta1 ** t)
        c2 = 1.0 / (1.0 - self.beta2 ** t)
        return (_OPT_CODES["adam"], self.lr, self.beta1, self.beta2, self.eps, c1, c2)


_CONFIG_KEYS = {"sgd": ({"lr"}, {"momentum", "nesterov", "velocity"}),
                "adam": ({"lr", "beta1", "beta2", "eps"}, {"bias_correction"})}


def optimizer_from_config(cfg):
    """Rebuild an optimizer from :meth:`Optimizer.get_config` output.

    Raises
    ------
    ValueError
        An unknown ``kind``, a missing setting (``lr``, Adam's ``beta1``,
        ``beta2``, ``eps``) or a key the optimizer does not take (a misspelt
        one would otherwise be dropped); settings that make another kind
        (``"momentum"`` without ``momentum > 0``); the settings' own checks.
    TypeError
        ``cfg`` not a dict; a setting of the wrong type.
    """
    if not isinstance(cfg, dict):
        raise TypeError(f"an optimizer config is a dict (Optimizer.get_config()), got "
                        f"{type(cfg).__name__}")
    cfg = dict(cfg)
    kind = cfg.pop("kind", None)
    family = "sgd" if kind in ("sgd", "momentum", "nesterov") else kind
    if family not in _CONFIG_KEYS:
        raise ValueError(f"unknown optimizer kind {kind!r}; valid: "
                         + ", ".join(map(repr, OPTIMIZER_NAMES)))
    needed, optional = _CONFIG_KEYS[family]
    missing = sorted(needed - set(cfg))
    unknown = sorted(set(cfg) - needed - optional - {"schedule"})
    if missing or unknown:
        raise ValueError(f"the {kind!r} optimizer config "
                         + (f"lacks {', '.join(map(repr, missing))}" if missing else "")
                         + (" and " if missing and unknown else "")
                         + (f"has keys it does not take: {', '.join(map(repr, unknown))}"
                            if unknown else "")
                         + f" (it takes {', '.join(map(repr, sorted(needed | optional)))})")
    sched = schedule_from_config(cfg.pop("schedule", None))
    # velocity / bias_correction: absent from checkpoints written before they existed
    if family == "sgd":
        opt = SGD(cfg["lr"], momentum=cfg.get("momentum", 0.0),
                  nesterov=cfg.get("nesterov", False),
                  velocity=cfg.get("velocity", "average"), schedule=sched)
        if opt.kind != kind:
            # {"kind": "momentum", "lr": 0.1} would train as plain SGD
            raise ValueError(f"the {kind!r} optimizer config makes a {opt.kind!r} optimizer "
                             f"(momentum={opt.momentum}, nesterov={opt.nesterov}): set "
                             "'momentum' > 0 for 'momentum', and 'nesterov': true too for "
                             "'nesterov', or give the kind they make")
        return opt
    return Adam(cfg["lr"], cfg["beta1"], cfg["beta2"], cfg["eps"],
                bias_correction=cfg.get("bias_correction", "moments"), schedule=sched)


def get_optimizer(name, lr=None, **kwargs):
    """An optimizer by name: 'sgd', 'momentum', 'nesterov' or 'adam'.

    Parameters
    ----------
    name : str or Optimizer
        The name (any case); an optimizer instance is returned as it is.
    lr : float, optional
        Defaults to 0.01 for the SGD family and 1e-3 for Adam.
    **kwargs
        The optimizer's other arguments (``momentum``, ``beta1``, ...);
        'momentum' and 'nesterov' default to ``momentum=0.9``.

    Returns
    -------
    Optimizer
        A new :class:`SGD` or :class:`Adam` (or ``name`` itself).

    Raises
    ------
    TypeError
        ``name`` is an optimizer instance and ``lr`` or other arguments are
        given too (set them on the instance instead), an optimizer class
        (``Adam`` instead of ``Adam()`` or ``"adam"``), or not a str; an
        argument the optimizer does not take.
    ValueError
        An unknown name.
    """
    if isinstance(name, Optimizer):
        if lr is not None or kwargs:
            given = ", ".join(["lr"] * (lr is not None) + sorted(kwargs))
            raise TypeError(f"get_optimizer got an optimizer instance, {name!r}, and {given}, "
                            "which it would ignore: pass a name ('adam', 'sgd', ...) with "
                            "them, or set them on the instance")
        return name
    if isinstance(name, type) and issubclass(name, Optimizer):
        raise TypeError(f"get_optimizer got the class {name.__name__}, not an optimizer: "
                        f"pass {name.__name__}(...) or a name such as "
                        f"{name.__name__.lower()!r}")
    if not isinstance(name, str):
        raise TypeError(f"the optimizer name must be a str such as 'adam', got "
                        f"{type(name).__name__} {_short_repr(name)}")
    key = name.lower()
    if key == "sgd":
        return SGD(0.01 if lr is None else lr, **kwargs)
    if key == "momentum":
        kwargs.setdefault("momentum", 0.9)
        return SGD(0.01 if lr is None else lr, **kwargs)
    if key == "nesterov":
        kwargs.setdefault("momentum", 0.9)
        return SGD(0.01 if lr is None else lr, nesterov=True, **kwargs)
    if key == "adam":
        return Adam(1e-3 if lr is None else lr, **kwargs)
    raise ValueError(f"unknown optimizer {name!r}; valid: " + ", ".join(map(repr, OPTIMIZER_NAMES)))
