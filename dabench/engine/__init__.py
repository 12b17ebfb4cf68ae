"""The engine: sweeps, reruns and benchmarks run on Ray Tune with Optuna (and ASHA), recording
to MLflow through :mod:`dabench.records`. :mod:`.options` declares their options once; it and
this package's ``__init__`` import nothing heavy, so that the command line's ``--help`` stays
fast."""
