"""Libraries the runner carries, as released upstream (each folder keeps its LICENSE):

- ``cloudpickle`` 3.1.3 (BSD-3-Clause; https://github.com/cloudpipe/cloudpickle), its
  ``__init__.py`` and ``cloudpickle.py`` from the PyPI wheel, unchanged: pickling functions and
  classes by value (pickling.py).
"""
