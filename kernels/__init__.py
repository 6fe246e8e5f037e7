"""Device and CPU kernels of pose2instance, installed as ``p2i_prior.kernels``.

Each module holds one primitive's CPU (``numba.njit``) and CUDA (``numba.cuda.jit``)
versions side by side.  Nothing here validates input: the host API in ``p2i_prior``
does that once and passes contiguous arrays of the documented dtypes.
"""
