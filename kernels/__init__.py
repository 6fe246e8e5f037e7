"""Device and CPU kernels of pose2instance, installed as ``p2i_prior.kernels``.

One module per step and target: CPU kernels (``numba.njit``) in ``sobel.py``, ``slic.py``,
``rag.py``, ``shortest_paths.py``, ``sweep.py``, ``skeleton.py``, ``fusion.py``, ``stats.py``;
their CUDA twins (``numba.cuda.jit``) in ``cuda_<step>.py``.  Per-element logic both sides need
is a plain Python function in the CPU module, compiled twice through ``_twin.twin``.  What the
CUDA modules share (the launch table ``LAUNCH``, grid helpers, fill / scan / statistics kernels)
is ``cuda_common.py``.  Nothing here validates input or imports the host modules: the host API
in ``p2i_prior`` validates once and passes contiguous arrays of the documented dtypes.
"""
