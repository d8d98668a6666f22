"""Run as ``mpiexec -n K python killed_rank.py DELAY``: the last rank is killed mid-fit.

Every rank starts the same data-parallel fit (many small steps, so it is
mid-fit for seconds); DELAY seconds after the fit starts, the last rank sends
itself SIGKILL -- no Python handler, no MPI_Abort, no goodbye. The other
ranks are then waiting in (or about to enter) an Allreduce with a dead peer:
the job must end, every rank with it, with a non-zero status (tested from
tests/test_faults.py with a timeout: no hang).
"""
import os
import signal
import sys
import threading

import numpy as np
from mpi4py import MPI

from fastbp import SGD, Network

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
delay = float(sys.argv[1])

rng = np.random.default_rng(0)
X = rng.standard_normal((8, 4000))
y = (X[0] > 0).astype(np.float64)
net = Network([8, 16, 1], "relu", "sigmoid", dtype="float64", seed=0)

if rank == size - 1:
    threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL)).start()
print(f"rank {rank} of {size}: pid {os.getpid()} fitting", flush=True)
net.fit(X, y, epochs=100000, batch_size=8, optimizer=SGD(0.01), comm=comm, verbose=False,
        replica_check_every=0)
print(f"rank {rank}: fit finished (the killed rank should have stopped it)", flush=True)
sys.exit(3)
