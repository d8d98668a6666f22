# Declarations of the C kernels in csrc/ (static inline, so every module that
# cimports them compiles its own copy; no shared object is involved).
from libc.stdint cimport int32_t, int64_t

cdef extern from "fastbp_act.h" nogil:
    int fbp_deriv_needs_z(int act)
    void fbp_forward_rows_f(int act, float alpha, float *Z, Py_ssize_t ldz,
                            float *A, Py_ssize_t lda, const float *b, Py_ssize_t bs,
                            Py_ssize_t rows, Py_ssize_t cols)
    void fbp_forward_rows_d(int act, double alpha, double *Z, Py_ssize_t ldz,
                            double *A, Py_ssize_t lda, const double *b, Py_ssize_t bs,
                            Py_ssize_t rows, Py_ssize_t cols)
    # prefetch rows [i, i + ahead) (below rows) of A, rows lda_bytes apart, the
    # first rb bytes of each
    void fbp_pf_rows(const void *A, Py_ssize_t lda_bytes, Py_ssize_t i, Py_ssize_t ahead,
                     Py_ssize_t rows, Py_ssize_t rb)
    void fbp_bias_fill_f(float *Z, Py_ssize_t ldz, const float *b, Py_ssize_t bs,
                         Py_ssize_t rows, Py_ssize_t cols)
    void fbp_bias_fill_d(double *Z, Py_ssize_t ldz, const double *b, Py_ssize_t bs,
                         Py_ssize_t rows, Py_ssize_t cols)
    void fbp_backward_rows_f(int act, float alpha, float *D, Py_ssize_t ldd,
                             const float *V, Py_ssize_t vr, Py_ssize_t vc,
                             Py_ssize_t rows, Py_ssize_t cols)
    void fbp_backward_rows_d(int act, double alpha, double *D, Py_ssize_t ldd,
                             const double *V, Py_ssize_t vr, Py_ssize_t vc,
                             Py_ssize_t rows, Py_ssize_t cols)
    void fbp_rowsum_f(const float *D, Py_ssize_t dr, Py_ssize_t dc, Py_ssize_t rows,
                      Py_ssize_t cols, float scale, float *out, Py_ssize_t os)
    void fbp_rowsum_d(const double *D, Py_ssize_t dr, Py_ssize_t dc, Py_ssize_t rows,
                      Py_ssize_t cols, double scale, double *out, Py_ssize_t os)
    void fbp_scaled_copy_f(float *dst, Py_ssize_t ldd, const float *src, Py_ssize_t sr,
                           Py_ssize_t sc, Py_ssize_t rows, Py_ssize_t cols, float s)
    void fbp_scaled_copy_d(double *dst, Py_ssize_t ldd, const double *src, Py_ssize_t sr,
                           Py_ssize_t sc, Py_ssize_t rows, Py_ssize_t cols, double s)

cdef extern from "fastbp_gemm.h" nogil:
    int fbp_use_avx512()
    # 1 where the small-GEMM kernel's AVX-512 clone runs (compiled, and allowed
    # by the CPU and FASTBP_DISPATCH)
    int fbp_gemm512_on()
    # C = alpha op(A) op(B) + beta C in that clone (fbp_gemm_small's
    # semantics); 0 (and nothing done) where it cannot run
    int fbp_gemm_small512_f(int ta, int tb, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                            float alpha, const float *A, Py_ssize_t lda, const float *B,
                            Py_ssize_t ldb, float beta, float *C, Py_ssize_t ldc)
    int fbp_gemm_small512_d(int ta, int tb, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                            double alpha, const double *A, Py_ssize_t lda, const double *B,
                            Py_ssize_t ldb, double beta, double *C, Py_ssize_t ldc)

cdef extern from "fastbp_loss.h" nogil:
    ctypedef struct fbp_cascade:
        pass
    void fbp_cascade_init(fbp_cascade *c)
    void fbp_cascade_add(fbp_cascade *c, double x)
    double fbp_cascade_total(const fbp_cascade *c)
    double fbp_sum_cascade(const double *a, Py_ssize_t n)
    double fbp_clamp(double x, double lo, double hi)
    void fbp_softmax_cols_f(const float *Z, Py_ssize_t zr, Py_ssize_t zc, float *out,
                            Py_ssize_t ldo, Py_ssize_t rows, Py_ssize_t j0, Py_ssize_t j1,
                            float *buf)
    void fbp_softmax_cols_d(const double *Z, Py_ssize_t zr, Py_ssize_t zc, double *out,
                            Py_ssize_t ldo, Py_ssize_t rows, Py_ssize_t j0, Py_ssize_t j1,
                            double *buf)
    void fbp_delta_f(const float *AL, Py_ssize_t ar, Py_ssize_t ac, const void *Y, int yt,
                     Py_ssize_t yr, Py_ssize_t yc, float *D, Py_ssize_t ldd,
                     Py_ssize_t rows, Py_ssize_t j0, Py_ssize_t j1)
    void fbp_delta_d(const double *AL, Py_ssize_t ar, Py_ssize_t ac, const void *Y, int yt,
                     Py_ssize_t yr, Py_ssize_t yc, double *D, Py_ssize_t ldd,
                     Py_ssize_t rows, Py_ssize_t j0, Py_ssize_t j1)
    double fbp_loss_sum_f(int loss, const float *AL, Py_ssize_t ar, Py_ssize_t ac,
                          const void *Y, int yt, Py_ssize_t yr, Py_ssize_t yc,
                          Py_ssize_t rows, Py_ssize_t j0, Py_ssize_t j1)
    double fbp_loss_sum_d(int loss, const double *AL, Py_ssize_t ar, Py_ssize_t ac,
                          const void *Y, int yt, Py_ssize_t yr, Py_ssize_t yc,
                          Py_ssize_t rows, Py_ssize_t j0, Py_ssize_t j1)
    double fbp_zloss_sum_f(int loss, const float *Z, Py_ssize_t zr, Py_ssize_t zc,
                           const void *Y, int yt, Py_ssize_t yr, Py_ssize_t yc,
                           Py_ssize_t rows, Py_ssize_t j0, Py_ssize_t j1, int *bad,
                           double clip)
    double fbp_zloss_sum_d(int loss, const double *Z, Py_ssize_t zr, Py_ssize_t zc,
                           const void *Y, int yt, Py_ssize_t yr, Py_ssize_t yc,
                           Py_ssize_t rows, Py_ssize_t j0, Py_ssize_t j1, int *bad,
                           double clip)
    void fbp_zloss_cols_f(int loss, const float *Z, Py_ssize_t zr, Py_ssize_t zc,
                          const void *Y, int yt, Py_ssize_t yr, Py_ssize_t yc,
                          Py_ssize_t rows, Py_ssize_t j0, Py_ssize_t j1, double *colloss,
                          int *bad, double clip)
    void fbp_zloss_cols_d(int loss, const double *Z, Py_ssize_t zr, Py_ssize_t zc,
                          const void *Y, int yt, Py_ssize_t yr, Py_ssize_t yc,
                          Py_ssize_t rows, Py_ssize_t j0, Py_ssize_t j1, double *colloss,
                          int *bad, double clip)
    void fbp_lse_cols_f(const float *Z, Py_ssize_t zr, Py_ssize_t zc, Py_ssize_t rows,
                        Py_ssize_t j0, Py_ssize_t j1, double *lse)
    void fbp_lse_cols_d(const double *Z, Py_ssize_t zr, Py_ssize_t zc, Py_ssize_t rows,
                        Py_ssize_t j0, Py_ssize_t j1, double *lse)
    double fbp_yval(const void *Y, int yt, Py_ssize_t k)
    int fbp_targets_ok(int loss, const void *Y, int yt, Py_ssize_t yr, Py_ssize_t yc,
                       Py_ssize_t rows, Py_ssize_t cols, double tol)
    void fbp_loss_cols_f(int loss, const float *AL, Py_ssize_t ar, Py_ssize_t ac,
                         const void *Y, int yt, Py_ssize_t yr, Py_ssize_t yc,
                         Py_ssize_t rows, Py_ssize_t j0, Py_ssize_t j1, double *colloss)
    void fbp_loss_cols_d(int loss, const double *AL, Py_ssize_t ar, Py_ssize_t ac,
                         const void *Y, int yt, Py_ssize_t yr, Py_ssize_t yc,
                         Py_ssize_t rows, Py_ssize_t j0, Py_ssize_t j1, double *colloss)

# Vectorised element-wise functions: y[k] = f(x[k]), k < n; y may be x.
cdef extern from "fastbp_vmath.h" nogil:
    void fbp_vexp_f(const float *x, float *y, Py_ssize_t n)
    void fbp_vexpm1_f(const float *x, float *y, Py_ssize_t n)
    void fbp_vlog_f(const float *x, float *y, Py_ssize_t n)
    void fbp_vlog1p_f(const float *x, float *y, Py_ssize_t n)
    void fbp_vtanh_f(const float *x, float *y, Py_ssize_t n)
    void fbp_vsigmoid_f(const float *x, float *y, Py_ssize_t n)
    void fbp_vexp_d(const double *x, double *y, Py_ssize_t n)
    void fbp_vexpm1_d(const double *x, double *y, Py_ssize_t n)
    void fbp_vlog_d(const double *x, double *y, Py_ssize_t n)
    void fbp_vlog1p_d(const double *x, double *y, Py_ssize_t n)
    void fbp_vtanh_d(const double *x, double *y, Py_ssize_t n)
    void fbp_vsigmoid_d(const double *x, double *y, Py_ssize_t n)

# D (cols, rows) = S^T for row-major S (rows, cols) with row stride lds (bit copies).
cdef extern from "fastbp_transpose.h" nogil:
    void fbp_transpose_f(const float *S, Py_ssize_t lds, Py_ssize_t rows, Py_ssize_t cols,
                         float *D)
    void fbp_transpose_d(const double *S, Py_ssize_t lds, Py_ssize_t rows, Py_ssize_t cols,
                         double *D)

# Team-level OpenMP primitives (fbp_omp_thread_num: fastbp._openmp_helpers).
cdef extern from "fastbp_omp.h" nogil:
    int fbp_omp_team_size()
    void fbp_omp_barrier()
    double fbp_wtime()
    # the next of a call's ntask tasks for the thread at position home of
    # nthr: its home tasks (t = home mod nthr) first, then any left (see
    # fastbp_omp.h); a value >= ntask when none is left
    Py_ssize_t fbp_task_claim(unsigned long long *taken, Py_ssize_t *next, Py_ssize_t ntask,
                              Py_ssize_t nthr, Py_ssize_t home)
    # a pool thread's home: 0 for the thread that hands the call to the pool
    # (between fbp_pool_enter and fbp_pool_leave), else a slot from 1 up
    # that it keeps from call to call
    Py_ssize_t fbp_pool_home()
    void fbp_pool_enter()
    void fbp_pool_leave()

# Optimizer updates over [a, b) of the flat buffers (the network kernel's):
# opt is an FBP_OPT_* code; the formulas are in csrc/fastbp_optim.h.
cdef extern from "fastbp_optim.h" nogil:
    # 1 where the update flushes subnormal numbers (x86-64, ARM64), else 0
    const int FBP_UPDATE_FLUSHES
    # 1 when Adam's float64 square root runs on the FMA units (AVX-512, Intel)
    int fbp_adam_sqrt_on_fma()
    void fbp_update_f(int opt, float *P, const float *G, float *S1, float *S2,
                      Py_ssize_t a, Py_ssize_t b, float lr, float b1, float b2,
                      float nb1, float nb2, float eps, float c1, float c2)
    void fbp_update_d(int opt, double *P, const double *G, double *S1, double *S2,
                      Py_ssize_t a, Py_ssize_t b, double lr, double b1, double b2,
                      double nb1, double nb2, double eps, double c1, double c2)
    # dW += l2 W and sq[i] = ||W[i, :]||^2 (sq may be NULL), rows of n_in weights
    void fbp_l2_rows_f(float *dW, const float *W, Py_ssize_t rows, Py_ssize_t n_in,
                       float l2, double *sq)
    void fbp_l2_rows_d(double *dW, const double *W, Py_ssize_t rows, Py_ssize_t n_in,
                       double l2, double *sq)

# The first layer's products with a sparse (CSC) input: csrc/fastbp_sparse.h.
cdef extern from "fastbp_sparse.h" nogil:
    int fbp_csc_check_i32(const int32_t *ptr, const int32_t *idx, Py_ssize_t m,
                          Py_ssize_t nnz, Py_ssize_t n)
    int fbp_csc_check_i64(const int64_t *ptr, const int64_t *idx, Py_ssize_t m,
                          Py_ssize_t nnz, Py_ssize_t n)
    Py_ssize_t fbp_sp_remap_f_i32(const int32_t *ptr, const int32_t *idx, const float *val,
                                  Py_ssize_t m, Py_ssize_t n, int64_t *mark, Py_ssize_t *U,
                                  Py_ssize_t *fptr, int32_t *fj, float *fv)
    Py_ssize_t fbp_sp_remap_f_i64(const int64_t *ptr, const int64_t *idx, const float *val,
                                  Py_ssize_t m, Py_ssize_t n, int64_t *mark, Py_ssize_t *U,
                                  Py_ssize_t *fptr, int32_t *fj, float *fv)
    Py_ssize_t fbp_sp_remap_d_i32(const int32_t *ptr, const int32_t *idx, const double *val,
                                  Py_ssize_t m, Py_ssize_t n, int64_t *mark, Py_ssize_t *U,
                                  Py_ssize_t *fptr, int32_t *fj, double *fv)
    Py_ssize_t fbp_sp_remap_d_i64(const int64_t *ptr, const int64_t *idx, const double *val,
                                  Py_ssize_t m, Py_ssize_t n, int64_t *mark, Py_ssize_t *U,
                                  Py_ssize_t *fptr, int32_t *fj, double *fv)
    enum:
        FBP_SPG_f
        FBP_SPG_d
    void fbp_sp_fwd_f(const float *W, Py_ssize_t ldw, Py_ssize_t R, const Py_ssize_t *U,
                      Py_ssize_t nu, const Py_ssize_t *fptr, const int32_t *fj,
                      const float *fv, Py_ssize_t m, float *ZT, float *Z, Py_ssize_t ldz)
    void fbp_sp_fwd_d(const double *W, Py_ssize_t ldw, Py_ssize_t R, const Py_ssize_t *U,
                      Py_ssize_t nu, const Py_ssize_t *fptr, const int32_t *fj,
                      const double *fv, Py_ssize_t m, double *ZT, double *Z, Py_ssize_t ldz)
    void fbp_sp_grad_f(float *dW, Py_ssize_t ldw, Py_ssize_t n, Py_ssize_t R,
                       const Py_ssize_t *U, Py_ssize_t nu, const Py_ssize_t *fptr,
                       const int32_t *fj, const float *fv, Py_ssize_t m, const float *D,
                       Py_ssize_t ldd, float s, float *DT)
    void fbp_sp_grad_d(double *dW, Py_ssize_t ldw, Py_ssize_t n, Py_ssize_t R,
                       const Py_ssize_t *U, Py_ssize_t nu, const Py_ssize_t *fptr,
                       const int32_t *fj, const double *fv, Py_ssize_t m, const double *D,
                       Py_ssize_t ldd, double s, double *DT)
