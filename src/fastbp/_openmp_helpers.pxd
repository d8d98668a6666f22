cdef extern from "fastbp_omp.h" nogil:
    int fbp_omp_enabled()
    int fbp_omp_max_threads()
    int fbp_omp_num_procs()
    int fbp_omp_thread_num()
