"""Hypothesis without per-example deadlines: the suite has no timed assertions, and a deadline is
one (a first call that imports pyarrow, or a machine running other jobs, took 250-600 ms where
the default allows 200)."""

from hypothesis import settings

settings.register_profile("tunelint", deadline=None)
settings.load_profile("tunelint")
