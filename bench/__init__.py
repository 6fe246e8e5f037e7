"""The pose2instance benchmark suite (method and results: ``bench/README.md``).

``python -m bench`` or ``p2i bench`` runs it; :func:`bench.suite.run_suite` and
:func:`bench.suite.write_results` are the programmatic entry points, with
:class:`bench.cases.Config` saying what to run.
"""
