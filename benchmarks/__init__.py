"""funcmlp's benchmarks, outside the library: ``bench`` (funcmlp against a numpy loop, scikit-learn and the
peers' baselines in ``baselines``) and ``matrix`` (funcmlp against plain JAX, cell by cell). Run them with
``python -m benchmarks`` from a source checkout (``--help`` lists the options)."""
