"""The sections of ``bench_gradient.py``, one module each, in the order they run.

Each module has ``NAME`` (what ``--only`` calls it) and ``run(cfg, rep)``,
which measures, shows its tables through ``rep.show`` and returns nothing;
``common`` holds the configuration and the data they share.
"""
