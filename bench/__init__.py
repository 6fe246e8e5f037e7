"""The pose2instance benchmark suite (method and results: ``bench/README.md``).

Installed as ``p2i_bench`` (the folder stays ``bench/`` at the repository root; every import
inside it is relative, so ``bench`` imported from the root is the same code).
``python -m p2i_bench`` or ``p2i bench`` runs it (``python -m bench`` from the root too);
:func:`p2i_bench.suite.run_suite` and :func:`p2i_bench.suite.write_results` are the programmatic
entry points, with :class:`p2i_bench.config.Config` saying what to run.

Modules: :mod:`.config` (what to run), :mod:`.inputs` (synthetic and COCO inputs),
:mod:`.references` (scikit-image, SciPy, OpenCV and both pipelines by stage), :mod:`.cases`
(the timed cases and the task list), :mod:`.core` (timing, machine metadata), :mod:`.suite`
(the run and its files), :mod:`.report` (targets, fits, Markdown, plots), :mod:`.cli`, and
:mod:`.gpu_bench` (the CUDA kernels on a real GPU).
"""
