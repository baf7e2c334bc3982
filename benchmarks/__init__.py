"""funcmlp's benchmarks, outside the library: ``bench`` (funcmlp against a numpy loop, scikit-learn and the
peers' baselines in ``baselines``, held to the goals in ``targets``) and ``matrix`` (funcmlp against the
plain-JAX loops of ``plain``, cell by cell over the problems in ``cells``); ``timing`` times and records
them, ``report`` prints them. Run them with ``python -m benchmarks`` from a source checkout (``--help`` lists
the options)."""
