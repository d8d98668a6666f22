"""Network.fit as a training script uses it: checkpoints around a divergence,
a learning rate changed by a callback, resume's arguments, the checkpoint
directory, and what a divergence's message points at."""
import os
import warnings

import numpy as np
import pytest

import fastbp
from fastbp.network import Network


def _diverging_regression():
    """Full-batch float32 regression at a learning rate that makes the
    parameters overflow (to inf) in some epoch's last update while that
    epoch's loss, computed in float64, was still finite."""
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((10, 500)) * 3).astype(np.float32)
    Y = (X[:3] ** 2).sum(0, keepdims=True) * 100
    return X, Y


def test_divergence_never_overwrites_the_last_good_checkpoint(tmp_path):
    """The finiteness of the parameters was checked once, after the last
    epoch: the epoch whose last update overflowed still ran the callback and
    the validation and saved its checkpoint over the good one, which then
    could not be loaded ("the saved parameters contain NaN or inf")."""
    X, Y = _diverging_regression()
    path = tmp_path / "ck.npz"
    net = Network([10, 1], output="identity", seed=0)
    seen = []
    with pytest.raises(FloatingPointError, match="overflowed") as err:
        net.fit(X, Y, epochs=100, batch_size=500, optimizer=fastbp.SGD(1.0),
                checkpoint_path=path, validation_data=(X, Y), verbose=False,
                callback=lambda n, e, logs: seen.append(
                    (e, bool(np.isfinite(n.flat_parameters).all()))))
    assert "last update of epoch" in str(err.value)
    assert seen and all(finite for _, finite in seen), seen[-3:]
    saved = Network.load(path)                       # loads: finite parameters
    assert np.isfinite(saved.flat_parameters).all()
    assert np.isfinite(net.flat_parameters).all()    # restored in memory too
    epoch = int(str(err.value).split("epoch ")[1].split(":")[0])
    assert seen[-1][0] == epoch - 1


def test_a_learning_rate_changed_by_a_callback_survives_a_resume(tmp_path):
    """The checkpoint held lr0 only: a rate lowered in a callback came back
    as lr0 on resume, and the resumed run trained at the wrong rate."""
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 90)), rng.integers(0, 3, 90)

    def run(path, stop_at=None, resume=False):
        net = Network([6, 8, 3], "tanh", "softmax", dtype="float64", seed=0)

        def cb(n, epoch, logs):
            if epoch == 2:
                n.optimizer.lr *= 0.1
            if epoch == stop_at:
                return True
        h = net.fit(X, y, epochs=5, batch_size=30, optimizer=fastbp.SGD(0.1),
                    checkpoint_path=path, resume=resume, callback=cb, verbose=False)
        return net, h

    whole, h_whole = run(tmp_path / "a.npz")
    run(tmp_path / "b.npz", stop_at=3)
    resumed, h_res = run(tmp_path / "b.npz", resume=True)
    assert h_res["lr"] == h_whole["lr"] == [0.1, 0.1] + [0.1 * 0.1] * 3
    np.testing.assert_array_equal(resumed.flat_parameters, whole.flat_parameters)


def test_a_callback_rate_a_schedule_undoes_is_said():
    """A callback lowering lr (a hand-made ReduceLROnPlateau) under a schedule
    changed nothing: the schedule set the next epoch's rate from lr0 before
    its first step, and no message said so. lr0 is the knob there."""
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 90)), rng.integers(0, 3, 90)

    def fit(cb):
        net = Network([6, 8, 3], "tanh", "softmax", dtype="float64", seed=0)
        opt = fastbp.SGD(0.1, schedule=fastbp.StepDecay(10, 0.5))
        return net.fit(X, y, epochs=3, batch_size=30, optimizer=opt, callback=cb,
                       verbose=False)

    def lower_lr(n, epoch, logs):
        n.optimizer.lr = n.optimizer.lr / 2
    with pytest.warns(RuntimeWarning, match=r"the callback set lr=0\.05 after epoch 1, but "
                                            r"the optimizer's schedule \(StepDecay.*set lr0"
                      ) as rec:
        assert fit(lower_lr)["lr"] == [0.1, 0.1, 0.1]
    assert len(rec) == 1                        # once per fit

    def lower_lr0(n, epoch, logs):
        n.optimizer.lr0 = n.optimizer.lr0 / 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fit(lower_lr0)["lr"] == [0.1, 0.05, 0.025]
        fit(lambda n, epoch, logs: None)


def test_a_plain_function_schedule_lost_on_resume_is_said(tmp_path):
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((4, 40)), rng.integers(0, 2, 40)
    path = tmp_path / "c.npz"

    def halving(lr0, epoch):
        return lr0 / 2 ** epoch
    net = Network([4, 3, 2], "relu", "softmax", dtype="float64", seed=0)
    net.fit(X, y, epochs=2, batch_size=10, verbose=False, checkpoint_path=path,
            optimizer=fastbp.SGD(0.1, schedule=halving))
    copy = tmp_path / "c2.npz"
    copy.write_bytes(path.read_bytes())
    fresh = Network([4, 3, 2], "relu", "softmax", dtype="float64", seed=0)
    with pytest.warns(RuntimeWarning, match="followed the function 'test_a_plain_function"
                                            ".*halving'.*cannot hold"):
        h = fresh.fit(X, y, epochs=4, batch_size=10, verbose=False, checkpoint_path=path,
                      resume=True)
    assert h["lr"][2:] == [0.05, 0.05]        # the saved rate, no schedule
    # passing the optimizer with its schedule resumes it, silently
    again = Network([4, 3, 2], "relu", "softmax", dtype="float64", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = again.fit(X, y, epochs=4, batch_size=10, verbose=False, checkpoint_path=copy,
                      resume=True, optimizer=fastbp.SGD(0.1, schedule=halving))
    assert h["lr"][2:] == [0.025, 0.0125]


@pytest.mark.parametrize("with_config", [False, True])
def test_an_lrschedule_subclass_of_the_users_checkpoints_as_a_function(tmp_path, with_config):
    # without get_config, repr and every checkpoint raised NotImplementedError
    # (after the first epoch's training); with one, the checkpoint named a
    # kind schedule_from_config does not know, and neither load nor a resume
    # with the very same optimizer could read it
    from fastbp.optim import LRSchedule

    class Halving(LRSchedule):
        def __call__(self, lr0, epoch):
            return lr0 / 2 ** epoch
    if with_config:
        Halving.get_config = lambda self: {"kind": "Halving"}
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((4, 40)), rng.integers(0, 2, 40)
    path = tmp_path / "c.npz"
    net = Network([4, 3, 2], "relu", "softmax", dtype="float64", seed=0)
    opt = fastbp.SGD(0.1, schedule=Halving())
    assert repr(opt).startswith("SGD(lr=0.1")
    net.fit(X, y, epochs=2, batch_size=10, verbose=False, checkpoint_path=path, optimizer=opt)
    with pytest.warns(RuntimeWarning, match="Halving'.*cannot hold"):
        assert Network.load(path).optimizer.lr == 0.05
    again = Network([4, 3, 2], "relu", "softmax", dtype="float64", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = again.fit(X, y, epochs=4, batch_size=10, verbose=False, checkpoint_path=path,
                      resume=True, optimizer=fastbp.SGD(0.1, schedule=Halving()))
    assert h["lr"] == [0.1, 0.05, 0.025, 0.0125]


def test_resume_without_a_path_and_an_unwritable_path_fail_before_training(tmp_path):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((4, 40)), rng.integers(0, 2, 40)
    net = Network([4, 3, 2], "relu", "softmax", dtype="float64", seed=0)
    before = net.flat_parameters.copy()
    with pytest.raises(ValueError, match="resume=True needs the checkpoint_path"):
        net.fit(X, y, epochs=2, verbose=False, resume=True)
    # a missing directory failed at the first save, after an epoch of training
    with pytest.raises(FileNotFoundError, match="does not exist"):
        net.fit(X, y, epochs=2, verbose=False,
                checkpoint_path=tmp_path / "no" / "such" / "dir" / "ck.npz")
    os.mkdir(tmp_path / "d.npz")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        net.fit(X, y, epochs=2, verbose=False, checkpoint_path=tmp_path / "d.npz")
    np.testing.assert_array_equal(net.flat_parameters, before)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".fastbp-ckpt-")]


def test_a_divergence_names_the_columns_of_X_of_a_shuffled_batch():
    """It named positions in the epoch's shuffled order ("columns 40:60"),
    not columns of X."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((3, 100)).astype(np.float32)
    X[0, 5] = 3e38
    y = rng.integers(0, 2, 100)
    net = Network([3, 4, 2], "relu", "softmax", seed=0)
    with pytest.raises(FloatingPointError) as err:
        net.fit(X, y, epochs=1, batch_size=20, verbose=False, seed=0)
    msg = str(err.value)
    step = int(msg.split("step ")[1].split(" ")[0])
    cols = [int(c) for c in msg.split("the columns ")[1].split(" of X")[0].split(", ")]
    # fit's first epoch order for seed 0
    perm = np.random.default_rng(0).permutation(100)
    assert cols == sorted(perm[20 * (step - 1):20 * step].tolist()), msg
    assert "scale the data" in msg
    with pytest.raises(FloatingPointError,
                       match=r"step 2 \(the mini-batch of columns 20:40 of X\)"):
        Network([3, 4, 2], "relu", "softmax", seed=0).fit(
            X, y, epochs=1, batch_size=20, verbose=False, shuffle=False)


def test_validation_weights_get_a_hint():
    X, y = np.ones((2, 4)), np.array([0, 1, 0, 1])
    with pytest.raises(TypeError, match="pair .* got tuple of 3; validation weights are not "
                                        "supported.*evaluate"):
        Network([2, 2], output="softmax").fit(X, y, validation_data=(X, y, np.ones(4)),
                                              verbose=False)


@pytest.mark.parametrize("make,match", [
    (lambda X, y: (X,), "tuple of 1$"),                  # the length said
    (lambda X, y: [X, y, y, y], "list of 4$"),
    (lambda X, y: X.ravel()[0], "float64$"),             # not a sequence
    (lambda X, y: {"X": X, "y": y}, r"dict with keys 'X', 'y': pass \(X_val, Y_val\)"),
])
def test_a_validation_data_that_is_not_a_pair_says_what_it_got(make, match):
    X, y = np.ones((2, 4)), np.array([0, 1, 0, 1])
    with pytest.raises(TypeError, match=r"validation_data must be a pair \(X_val, Y_val\), "
                                        "got " + match):
        Network([2, 2], output="softmax").fit(X, y, validation_data=make(X, y), verbose=False)


def test_resuming_past_the_requested_epochs_says_so(tmp_path):
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((4, 40)), rng.integers(0, 2, 40)
    path = tmp_path / "e.npz"
    net = Network([4, 3, 2], "relu", "softmax", dtype="float64", seed=0)
    h = net.fit(X, y, epochs=4, verbose=False, checkpoint_path=path)
    with pytest.warns(RuntimeWarning, match="past epoch 4 and epochs=2: nothing is trained"):
        again = net.fit(X, y, epochs=2, verbose=False, checkpoint_path=path, resume=True)
    assert again["loss"] == h["loss"]


# -- a fresh user's checkpoint trial (tenth session): each failed before its fix

def _small_fit_data():
    rng = np.random.default_rng(4)
    return rng.standard_normal((4, 60)), rng.integers(0, 3, 60)


def test_loading_a_npy_file_says_it_is_not_a_checkpoint(tmp_path):
    # np.load returned the array, and the loader's `with` raised
    # "TypeError: 'numpy.ndarray' object does not support the context manager protocol"
    np.save(tmp_path / "weights.npy", np.zeros(5))
    net = Network([4, 3, 3], "relu", "softmax", seed=0)
    for call in (lambda: Network.load(tmp_path / "weights.npy"),
                 lambda: net.restore(tmp_path / "weights.npy")):
        with pytest.raises(ValueError, match=r"one NumPy array \(an np.save .npy file\)"):
            call()


def test_a_text_file_gets_no_allow_pickle_advice(tmp_path):
    # np.load's message told the user to pass allow_pickle=, which load() does not take
    (tmp_path / "notes.npz").write_text("not a checkpoint\n")
    with pytest.raises(ValueError, match="not a NumPy .npz archive") as err:
        Network.load(tmp_path / "notes.npz")
    assert "allow_pickle" not in str(err.value)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="empty: truncated or corrupted"):
        Network.load(tmp_path / "empty.npz")


def test_resume_from_a_checkpoint_saved_before_training(tmp_path):
    # it holds no optimizer: fit raised "'NoneType' object has no attribute 'set_epoch'";
    # the documented default (SGD(0.01)) trains, as without a checkpoint
    X, y = _small_fit_data()
    path = tmp_path / "init.npz"
    Network([4, 5, 3], "relu", "softmax", seed=2).save(path)
    resumed = Network([4, 5, 3], "relu", "softmax", seed=9)
    hist = resumed.fit(X, y, epochs=2, checkpoint_path=path, resume=True, verbose=False)
    fresh = Network([4, 5, 3], "relu", "softmax", seed=2)
    want = fresh.fit(X, y, epochs=2, verbose=False, seed=9)
    assert hist["loss"] == want["loss"]
    np.testing.assert_array_equal(resumed.flat_parameters, fresh.flat_parameters)
    assert type(resumed.optimizer).__name__ == "SGD" and resumed.optimizer.lr == 0.01
    # a caller's optimizer is used there too
    net = Network([4, 5, 3], "relu", "softmax", seed=2)
    net.save(path)
    net.fit(X, y, epochs=1, optimizer=fastbp.Adam(0.003), checkpoint_path=path,
            resume=True, verbose=False)
    assert type(Network.load(path).optimizer).__name__ == "Adam"


def test_resume_from_a_checkpoint_saved_before_training_zeroes_the_callers_state(tmp_path):
    # the checkpoint holds the optimizer at t = 0 with no state buffers: the
    # caller's optimizer (same config) got t = 0 but kept the moments of its
    # updates since, and the resumed run silently differed from a fresh one
    X, y = _small_fit_data()
    path = tmp_path / "init.npz"
    net = Network([4, 5, 3], "relu", "softmax", seed=2)
    opt = fastbp.Adam(0.01)
    net.save(path, optimizer=opt)
    net.fit(X, y, epochs=2, optimizer=opt, verbose=False)
    hist = net.fit(X, y, epochs=2, optimizer=opt, checkpoint_path=path, resume=True,
                   verbose=False)
    fresh = Network([4, 5, 3], "relu", "softmax", seed=2)
    want = fresh.fit(X, y, epochs=2, optimizer=fastbp.Adam(0.01), verbose=False)
    assert hist["loss"] == want["loss"]
    np.testing.assert_array_equal(net.flat_parameters, fresh.flat_parameters)


def test_resume_from_a_checkpoint_past_epochs_does_not_replay_its_epochs(tmp_path):
    # the shuffles of the checkpoint's epochs were replayed before the check
    # that nothing is left to train: a (hand-edited) epoch of 10**12 hung
    X, y = _small_fit_data()
    path = tmp_path / "far.npz"
    net = Network([4, 5, 3], "relu", "softmax", seed=2)
    net.save(path, extra={"epoch": 10**12, "history": {}})
    with pytest.warns(RuntimeWarning, match="nothing is trained"):
        net.fit(X, y, epochs=3, batch_size=8, checkpoint_path=path, resume=True,
                verbose=False)


def test_resumed_fit_keeps_the_checkpoints_other_entries(tmp_path):
    # a model file of `fastbp train --save` lost its preprocessing when a
    # resumed fit rewrote it, and fastbp predict could not read it any more
    X, y = _small_fit_data()
    path = tmp_path / "model.npz"
    net = Network([4, 5, 3], "relu", "softmax", seed=2)
    prep = {"task": "multiclass", "target": "y", "features": ["a", "b", "c", "d"],
            "mean": [0.0] * 4, "scale": [1.0] * 4, "classes": [0, 1, 2]}
    net.save(path, extra={"epoch": 0, "history": {}, "preprocessing": prep})
    net.fit(X, y, epochs=2, checkpoint_path=path, resume=True, verbose=False)
    train = Network([4, 5, 3], "relu", "softmax").restore(path)
    assert train["preprocessing"] == prep and train["epoch"] == 2


@pytest.mark.parametrize("field, value, match", [
    ("config", [1, 2], r"'config' entry is a JSON list, not an object"),
    ("version", "x", r"format version .* is not a number"),
    ("train.step", -3, r"train.step is -3, outside \[0, "),
    ("train.step", "many", r"train.step is 'many', not an integer"),
    ("optimizer.lr", "fast", r"its optimizer cannot be rebuilt"),
    ("optimizer.kind", "rmsprop", r"its optimizer cannot be rebuilt"),
])
def test_hand_edited_checkpoint_metadata_is_named(tmp_path, field, value, match):
    # these raised TypeError, a ValueError without the file, or (a negative
    # step) loaded and failed in the next fit with an OverflowError
    def edit(docs, entries):
        if field == "version":
            entries["version"] = np.array(value)
        elif field == "config":
            docs["config"] = value
        elif field == "optimizer.kind":
            docs["optimizer"]["config"]["kind"] = value
        else:
            doc, key = field.split(".")
            docs[doc][key] = value
    bad = _edited_checkpoint(tmp_path, edit)
    with pytest.raises(ValueError, match=match) as err:
        Network.load(bad)
    assert "bad.npz" in str(err.value)


def test_a_corrupted_optimizer_config_is_named_when_an_optimizer_is_given(tmp_path):
    # restore built the saved optimizer for its "made otherwise" message, and
    # its TypeError ("lr must be a real number") came out naming no file
    def edit(docs, entries):
        docs["optimizer"]["config"]["lr"] = "fast"
    bad = _edited_checkpoint(tmp_path, edit)
    X, y = _small_fit_data()
    for opt in (fastbp.SGD(0.1), fastbp.Adam(0.01)):
        net = Network([4, 5, 3], "relu", "softmax", seed=2)
        with pytest.raises(ValueError, match="corrupted checkpoint: its optimizer") as err:
            net.fit(X, y, epochs=3, optimizer=opt, checkpoint_path=bad, resume=True,
                    verbose=False)
        assert "bad.npz" in str(err.value)


def test_resume_from_a_corrupted_history_changes_nothing(tmp_path):
    # the history was checked after the checkpoint was restored: the fit
    # raised, but the network held the checkpoint's parameters and optimizer
    def edit(docs, entries):
        docs["train"]["history"] = {"loss": [0.5, "a"]}
    bad = _edited_checkpoint(tmp_path, edit)
    X, y = _small_fit_data()
    net = Network([4, 5, 3], "relu", "softmax", seed=7)
    before = net.flat_parameters.copy()
    with pytest.raises(ValueError, match="train.history is not an object of lists"):
        net.fit(X, y, epochs=3, checkpoint_path=bad, resume=True, verbose=False)
    np.testing.assert_array_equal(net.flat_parameters, before)
    assert net.optimizer is None


@pytest.mark.parametrize("kind", ["trailing separator", "existing directory", "empty"])
def test_a_checkpoint_path_that_names_no_file_is_refused(tmp_path, kind):
    # "dir/" wrote a hidden dir/.npz, "dir" a dir.npz that resume=True then did not
    # find ("IsADirectoryError"), "" a hidden .npz in the working directory
    X, y = _small_fit_data()
    (tmp_path / "ckdir").mkdir()
    path = {"trailing separator": str(tmp_path / "ckdir") + os.sep,
            "existing directory": str(tmp_path / "ckdir"), "empty": ""}[kind]
    net = Network([4, 5, 3], "relu", "softmax", seed=2)
    before = net.flat_parameters.copy()
    err = ValueError if kind == "empty" else IsADirectoryError
    with pytest.raises(err, match="empty: give a file name" if kind == "empty"
                       else "is a directory; give a file name in it"):
        net.fit(X, y, epochs=1, checkpoint_path=path, verbose=False)
    np.testing.assert_array_equal(net.flat_parameters, before)   # refused before training
    with pytest.raises(err):
        net.save(path)
    assert os.listdir(tmp_path / "ckdir") == [] and not (tmp_path / "ckdir.npz").exists()


# -- a second fresh user's trial of the same workflows (tenth session)

def _edited_checkpoint(tmp_path, edit):
    """A trained network's checkpoint with its JSON documents edited by ``edit``."""
    import json
    import zipfile
    X, y = _small_fit_data()
    src = tmp_path / "good.npz"
    net = Network([4, 5, 3], "relu", "softmax", seed=2)
    net.fit(X, y, epochs=2, optimizer=fastbp.SGD(0.1), verbose=False, checkpoint_path=src)
    with np.load(src) as z:
        entries = {k: z[k] for k in z.files}
    docs = {k: json.loads(entries[k].tobytes()) for k in ("config", "train", "optimizer")}
    edit(docs, entries)
    for k, d in docs.items():
        entries[k] = np.frombuffer(json.dumps(d).encode(), np.uint8)
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w") as zf:
        for k, a in entries.items():
            with zf.open(k + ".npy", "w") as f:
                np.lib.format.write_array(f, a)
    return bad


@pytest.mark.parametrize("what, edit, match", [
    ("history a list", lambda d, e: d["train"].update(history=[0.5]),
     "train.history is not an object of lists"),
    ("history of a number", lambda d, e: d["train"].update(history={"loss": 0.5}),
     "train.history is not an object of lists"),
    ("history of text", lambda d, e: d["train"].update(history={"loss": "abc"}),
     "train.history is not an object of lists"),
    ("epoch text", lambda d, e: d["train"].update(epoch="one"),
     "train.epoch is 'one', not an integer"),
    ("epoch negative", lambda d, e: d["train"].update(epoch=-1), r"train.epoch is -1, outside"),
    ("fit_step text", lambda d, e: d["train"].update(fit_step="7"),
     r"holds a bad fit_step \(fit_step must be an int, got str '7'\): it was not written by fit"),
    ("fit_step float", lambda d, e: d["train"].update(fit_step=7.0),
     r"holds a bad fit_step \(fit_step must be an int, got float 7.0"),
    ("fit_step true", lambda d, e: d["train"].update(fit_step=True),
     r"holds a bad fit_step \(fit_step must be an int, got True"),
    ("fit_step negative", lambda d, e: d["train"].update(fit_step=-1),
     r"holds a bad fit_step \(fit_step must be an int in \[0, 2\*\*64\), got -1"),
    ("fit_step too big", lambda d, e: d["train"].update(fit_step=2**64),
     r"holds a bad fit_step \(fit_step must be an int in \[0, 2\*\*64\), got 18446744073709551616"),
    ("lr negative", lambda d, e: d["optimizer"].update(lr=-1.0),
     r"learning rate in force is -1.0, not > 0"),
    ("lr nan", lambda d, e: d["optimizer"].update(lr=float("nan")),
     r"learning rate in force is nan, not > 0"),
    ("no version", lambda d, e: e.pop("version"), r"missing 'version'"),
])
def test_edited_train_record_learning_rate_or_version_are_named(tmp_path, what, edit, match):
    # resume raised AttributeError/TypeError, trained 3 epochs of 2 (epoch -1),
    # returned a history ['a', 'b', 'c', ...], trained at lr -1, or sent the user
    # looking for the release of "format version -1"
    bad = _edited_checkpoint(tmp_path, edit)
    X, y = _small_fit_data()
    with pytest.raises(ValueError, match=match) as err:
        Network([4, 5, 3], "relu", "softmax").fit(X, y, epochs=2, checkpoint_path=bad,
                                                  resume=True, verbose=False)
    assert "bad.npz" in str(err.value), what
    with pytest.raises(TypeError, match="extra must be a dict"):
        Network([4, 5, 3]).save(tmp_path / "x.npz", extra=[("epoch", 1)])


def test_save_refuses_extra_entries_that_load_or_resume_would_misread(tmp_path):
    # extra={"step": ...} overwrote the network's dropout state on load, and
    # {"step": 2.5} / {"history": "x"} wrote files load / resume refused
    net = Network([4, 5, 3], "relu", "softmax", seed=0, keep_prob=0.5)
    for bad, match in (({"step": 1000}, "'step'"),
                       ({"dropout_seed": "12345"}, "'dropout_seed'"),
                       ({"step": 2.5, "dropout_seed": 1}, "'step', 'dropout_seed'"),
                       ({"epoch": -1}, "epoch"), ({"epoch": 1.5}, "epoch"),
                       ({"epoch": True}, "epoch"), ({"epoch": 2**63}, "below 2"),
                       ({"history": "x"}, "history"),
                       ({"history": {"loss": [0.5, "a"]}}, "history"),
                       ({"history": {"loss": 0.5}}, "history")):
        with pytest.raises(ValueError, match=match):
            net.save(tmp_path / "bad.npz", extra=bad)
        assert not (tmp_path / "bad.npz").exists()
    good = {"epoch": np.int64(2), "history": {"loss": [0.5, None], "note": "kept"},
            "preprocessing": {"scale": [1.0]}}
    path = net.save(tmp_path / "good.npz", extra=good)
    back = Network.load(path)
    assert back.step_count == net.step_count and back.dropout_seed == net.dropout_seed
    X, y = _small_fit_data()
    net.fit(X, y, epochs=3, checkpoint_path=path, resume=True, verbose=False)


def test_a_zip_behind_other_bytes_gets_no_pickle_advice(tmp_path):
    X, y = _small_fit_data()
    good = Network([4, 5, 3], "relu", "softmax", seed=2).save(tmp_path / "good.npz")
    (tmp_path / "pre.npz").write_bytes(b"#!header\n" + open(good, "rb").read())
    with pytest.raises(ValueError, match="Network.save never writes such a file") as err:
        Network.load(tmp_path / "pre.npz")
    assert "allow_pickle" not in str(err.value)


def test_saving_another_networks_optimizer_of_the_same_size_is_refused(tmp_path):
    # only a different size was noticed: the file got the other network's moments
    X, y = _small_fit_data()
    net, other = (Network([4, 5, 3], "relu", "softmax", seed=s) for s in (1, 2))
    net.fit(X, y, epochs=1, optimizer=fastbp.Adam(0.01), verbose=False)
    opt = fastbp.Adam(0.01)
    other.fit(X, y, epochs=1, optimizer=opt, verbose=False)
    with pytest.raises(ValueError, match="holds the state of another network"):
        net.save(tmp_path / "m.npz", optimizer=opt)
    assert not (tmp_path / "m.npz").exists()
    other.save(tmp_path / "o.npz", optimizer=opt)           # its own network: fine


def test_resume_reads_the_file_fit_writes(tmp_path):
    # a file named "model" (a log) beside model.npz was read instead of model.npz
    X, y = _small_fit_data()
    base = tmp_path / "model"
    net = Network([4, 5, 3], "relu", "softmax", seed=2)
    net.fit(X, y, epochs=2, checkpoint_path=base, verbose=False)
    base.write_text("training log\n")
    resumed = Network([4, 5, 3], "relu", "softmax", seed=2)
    hist = resumed.fit(X, y, epochs=3, checkpoint_path=base, resume=True, verbose=False)
    assert len(hist["loss"]) == 3 and base.read_text() == "training log\n"


def test_a_save_path_under_a_file_says_so(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"afile' is a file, not a directory"):
        Network([2, 3, 1]).save(tmp_path / "afile" / "model.npz")


class _FailingStream:
    """A stderr that takes no writes (closed, or its disk full)."""

    def __init__(self, exc):
        self.exc = exc

    def write(self, text):
        raise self.exc

    def flush(self):
        raise self.exc


@pytest.mark.parametrize("stderr", ["none", "closed", "full"])
def test_progress_display_never_fails_a_fit(monkeypatch, stderr):
    # with sys.stderr None (pythonw, a windowed app, fd 2 closed) the default
    # verbose=True raised AttributeError at step 0 and nothing was trained
    import sys
    X, y = _small_fit_data()
    quiet = Network([4, 5, 3], "relu", "softmax", seed=2)
    expected = quiet.fit(X, y, epochs=3, verbose=False)
    monkeypatch.setattr(sys, "stderr", {
        "none": None, "closed": _FailingStream(ValueError("I/O operation on closed file")),
        "full": _FailingStream(OSError(28, "No space left on device"))}[stderr])
    net = Network([4, 5, 3], "relu", "softmax", seed=2)
    got = net.fit(X, y, epochs=3, verbose=True)
    assert got["loss"] == expected["loss"]
    assert np.array_equal(net.flat_parameters, quiet.flat_parameters)


def test_a_checkpoint_name_too_long_is_refused_before_training(tmp_path):
    # the file system's 255-byte limit was met when the first checkpoint was
    # written, after checkpoint_every epochs of training
    import errno
    X, y = _small_fit_data()
    net = Network([4, 5, 3], "relu", "softmax", seed=2)
    path = tmp_path / ("m" * 300 + ".npz")
    with pytest.raises(OSError, match=r"the file name is 304 bytes long, more than the "
                       r"\d+ this file system allows") as err:
        net.fit(X, y, epochs=3, checkpoint_path=path, verbose=False)
    assert err.value.errno == errno.ENAMETOOLONG and net.step_count == 0


@pytest.mark.parametrize("errnum, words", [("EROFS", "choose a directory on a writable file "
                                                      "system"),
                                           ("EACCES", "no permission to write in that "
                                                      "directory"),
                                           ("ENOSPC", "")])
def test_output_paths_say_why_a_directory_takes_no_file(tmp_path, monkeypatch, errnum, words):
    # a read-only file system was reported as "no permission to write there"
    # (os.access), which chmod cannot fix
    import errno
    import tempfile
    from fastbp import _validation
    code = getattr(errno, errnum)

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ValueError) as err:
        _validation.check_output_path("--save", str(tmp_path / "model.npz"))
    assert f"cannot write there ({os.strerror(code)}" in str(err.value) and words in str(err.value)


def test_an_output_name_too_long_is_refused_up_front(tmp_path):
    from fastbp import _validation
    with pytest.raises(ValueError, match=r"--out .*: the file name is 404 bytes long"):
        _validation.check_output_path("--out", str(tmp_path / ("p" * 400 + ".csv")))
    assert _validation.check_output_path("--out", str(tmp_path / "p.csv"))


def _orders_seen(monkeypatch):
    """Record the permutations drawn from np.random.default_rng's generators
    (fit's shuffling) while the test runs."""
    seen = []
    real = np.random.default_rng

    class Spy:
        def __init__(self, gen):
            self._gen = gen

        def permutation(self, x):
            p = self._gen.permutation(x)
            seen.append(p.copy())
            return p

        def __getattr__(self, name):
            return getattr(self._gen, name)
    monkeypatch.setattr(np.random, "default_rng", lambda *a, **k: Spy(real(*a, **k)))
    return seen


def test_fit_in_a_loop_reshuffles_every_call(monkeypatch):
    """fit(epochs=1) in a loop (a Keras user's per-epoch logging) shuffled
    from the network's seed anew in each call: the same order every epoch,
    silently. The default orders now come from (seed, step_count at the
    fit's start): a first fit shuffles as seed=net.seed did, later ones
    differ, and the loop is the same in every run."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((4, 60)), np.arange(60) % 3
    seen = _orders_seen(monkeypatch)

    def loop(**kw):
        net = Network([4, 5, 3], output="softmax", dtype="float64", seed=0)
        for _ in range(3):
            net.fit(X, y, epochs=1, batch_size=10, verbose=False, **kw)
        return net
    a = loop()
    orders = seen[:]
    assert len(orders) == 3
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[1], orders[2])
    seen.clear()
    b = loop()                                   # the same script: the same orders
    assert all(np.array_equal(o, p) for o, p in zip(orders, seen))
    np.testing.assert_array_equal(a.flat_parameters, b.flat_parameters)
    seen.clear()
    c = loop(seed=0)                             # an explicit seed: one order, as asked
    assert all(np.array_equal(o, seen[0]) for o in seen)
    np.testing.assert_array_equal(seen[0], orders[0])     # a first fit is unchanged
    assert not np.array_equal(a.flat_parameters, c.flat_parameters)


def test_a_later_fit_resumes_with_its_own_orders(tmp_path):
    """A fit that is not the network's first, stopped and resumed, trains as
    the same fit uninterrupted: the checkpoint keeps the step count its
    shuffling started from."""
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((5, 80)), rng.integers(0, 3, 80)

    def run(path, stop_at=None, resume=False):
        net = Network([5, 7, 3], "tanh", "softmax", dtype="float64", seed=1)
        net.fit(X, y, epochs=2, batch_size=16, optimizer=fastbp.Adam(0.01), verbose=False)
        if resume:                                  # a new process: the first fit again,
            net = Network([5, 7, 3], "tanh", "softmax", dtype="float64", seed=1)
        h = net.fit(X, y, epochs=5, batch_size=16, checkpoint_path=path, resume=resume,
                    verbose=False, callback=lambda n, e, logs: e == stop_at)
        return net, h

    whole, h_whole = run(tmp_path / "a.npz")
    run(tmp_path / "b.npz", stop_at=2)
    resumed, h_res = run(tmp_path / "b.npz", resume=True)
    assert h_res["loss"] == h_whole["loss"]
    np.testing.assert_array_equal(resumed.flat_parameters, whole.flat_parameters)
