"""Run as ``mpiexec -n K python fit_equivalence.py OUT.npz WORKDIR``.

Trains the same networks data-parallel over the K ranks and, on rank 0, on
one process with the same global batch, then writes to OUT.npz (rank 0):
``size``; per case ``<case>/dist`` (K, n_params) every rank's final
parameters, ``<case>/single`` (n_params,), ``<case>/dist_loss`` and
``<case>/single_loss`` (per-epoch or per-step losses). tests/test_distributed.py
makes the assertions.
"""
import os
import sys

import numpy as np
from mpi4py import MPI

from fastbp import SGD, Adam, Network

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
out_path, workdir = sys.argv[1], sys.argv[2]
EPOCHS = 5

# name, dims, hidden, output, network kwargs, optimizer, batch size, shuffle, m, dtype
CASES = [
    ("sgd_momentum_softmax", [6, 16, 9, 4], "relu", "softmax", {},
     lambda: SGD(0.1, momentum=0.9), 16, False, 101, "float64"),
    ("adam_l2_dropout", [6, 12, 8, 3], ["tanh", "gelu"], "softmax",
     dict(lambd=0.5, keep_prob=[0.8, 0.9]), lambda: Adam(0.01), 7, False, 101, "float64"),
    # batch 2 < 3 ranks: some shares are empty
    ("nesterov_sigmoid_tiny_batches", [5, 10, 1], "silu", "sigmoid", {},
     lambda: SGD(0.05, momentum=0.9, nesterov=True), 2, False, 61, "float64"),
    ("sgd_identity_full_batch_l2", [4, 8, 2], "elu", "identity", dict(lambd=0.1),
     lambda: SGD(0.05), 1000, False, 50, "float64"),
    ("adam_shuffled_dropout", [6, 16, 4], "relu", "softmax", dict(keep_prob=0.9),
     lambda: Adam(0.01), 20, True, 101, "float64"),
    ("adam_float32", [6, 16, 4], "relu", "softmax", {}, lambda: Adam(0.01), 16, False, 101,
     "float32"),
    # a sparse X (CSC, density ~0.2): each rank's share of a batch is a CSC
    # slice, through the network's sparse first-layer kernel
    ("adam_sparse_shuffled", [40, 19, 3], "relu", "softmax", dict(lambd=0.1),
     lambda: Adam(0.01), 16, True, 101, "float64"),
]


def data(dims, output, m, dtype, sparse=False):
    rng = np.random.default_rng(42)
    X = rng.standard_normal((dims[0], m)).astype(dtype)
    if sparse:
        import scipy.sparse as sp
        X = sp.csc_matrix(X * (rng.random(X.shape) < 0.2))
    if output == "softmax":
        return X, rng.integers(0, dims[-1], m)
    if output == "sigmoid":
        return X, (rng.random((1, m)) > 0.5).astype(np.uint8)
    return X, rng.standard_normal((dims[-1], m)).astype(dtype)


results = {"size": np.array(size)}
for name, dims, hidden, output, kw, make_opt, bs, shuffle, m, dtype in CASES:
    X, Y = data(dims, output, m, dtype, sparse="sparse" in name)
    # different initial parameters on every rank: fit must broadcast rank 0's
    net = Network(dims, hidden, output, dtype=dtype, seed=1 + rank, **kw)
    hist = net.fit(X, Y, epochs=EPOCHS, batch_size=bs, optimizer=make_opt(), shuffle=shuffle,
                   seed=7, verbose=False, comm=comm, replica_check_every=3)
    params = comm.gather(net.flat_parameters.copy(), root=0)
    if rank == 0:
        ref = Network(dims, hidden, output, dtype=dtype, seed=1, n_threads=1, **kw)
        ref_hist = ref.fit(X, Y, epochs=EPOCHS, batch_size=bs, optimizer=make_opt(),
                           shuffle=shuffle, seed=7, verbose=False)
        results[f"{name}/dist"] = np.stack(params)
        results[f"{name}/single"] = ref.flat_parameters.copy()
        results[f"{name}/dist_loss"] = np.array(hist["loss"])
        results[f"{name}/single_loss"] = np.array(ref_hist["loss"])

# a hand-written loop with train_step(comm=...): every rank passes the global batch
X, Y = data([5, 12, 3], "softmax", 90, "float64")
net = Network([5, 12, 3], "tanh", "softmax", dtype="float64", seed=3, lambd=0.2)
opt = Adam(0.02)
ref = Network([5, 12, 3], "tanh", "softmax", dtype="float64", seed=3, lambd=0.2, n_threads=1)
ref_opt = Adam(0.02)
losses, ref_losses = [], []
for epoch in range(3):
    for j in range(0, 90, 13):
        losses.append(net.train_step(X[:, j:j + 13], Y[j:j + 13], opt, comm=comm))
        ref_losses.append(ref.train_step(X[:, j:j + 13], Y[j:j + 13], ref_opt))
params = comm.gather(net.flat_parameters.copy(), root=0)
all_losses = comm.gather(losses, root=0)
if rank == 0:
    results["train_step/dist"] = np.stack(params)
    results["train_step/single"] = ref.flat_parameters.copy()
    results["train_step/dist_loss"] = np.array(losses)
    results["train_step/single_loss"] = np.array(ref_losses)
    results["train_step/all_rank_losses"] = np.array(all_losses)

# checkpoint on rank 0, resume: equals the uninterrupted data-parallel run
ck = os.path.join(workdir, "dist_ck.npz")
X, Y = data([6, 10, 3], "softmax", 80, "float64")


def make():
    return Network([6, 10, 3], "relu", "softmax", dtype="float64", seed=5)


full = make()
h_full = full.fit(X, Y, epochs=6, batch_size=12, optimizer=Adam(0.01), seed=1, verbose=False,
                  comm=comm)
part = make()
part.fit(X, Y, epochs=3, batch_size=12, optimizer=Adam(0.01), seed=1, verbose=False,
         comm=comm, checkpoint_path=ck, checkpoint_every=2)
resumed = make()
h_res = resumed.fit(X, Y, epochs=6, batch_size=12, optimizer=Adam(0.01), seed=1,
                    verbose=False, comm=comm, checkpoint_path=ck, resume=True)
params = comm.gather(resumed.flat_parameters.copy(), root=0)
if rank == 0:
    results["resume/dist"] = np.stack(params)
    results["resume/single"] = full.flat_parameters.copy()
    results["resume/dist_loss"] = np.array(h_res["loss"])
    results["resume/single_loss"] = np.array(h_full["loss"])
    results["resume/files"] = np.array(sorted(os.listdir(workdir)))
    np.savez(out_path, **results)
