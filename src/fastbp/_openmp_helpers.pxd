cdef extern from "fastbp_omp.h" nogil:
    int fbp_omp_enabled()
    int fbp_omp_max_threads()
    int fbp_omp_thread_limit()
    int fbp_omp_num_procs()
    int fbp_omp_thread_num()

# The thread count an OpenMP region may use in this process: nt, or 1 in a
# fork() child of a process whose OpenMP team had started (see the .pyx).
cdef int team_threads(int nt) noexcept nogil

# 1 in such a child (its kernels run as with n_threads=1), else 0.
cdef int fork_child() noexcept nogil

# n_threads=None's count for the calling thread now (see the .pyx).
cdef int default_threads() noexcept nogil

# cpu_count() as read at import (an explicit n_threads above it is capped).
cdef int cores_at_import() noexcept nogil
