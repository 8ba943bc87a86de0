"""The offline tuner: a search space over runner and gate config keys, an Optuna study over deterministic
backtests of recordings, and the best overlay with its provenance (``auroractl tune``)."""
