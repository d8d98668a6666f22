# Cross-module declarations of fastbp._dense (cimported by fastbp._course).
cimport numpy as cnp

cdef tuple _labels(object Y, cnp.ndarray al)
