"""tinylstm: one tiny LSTM, trained from a CSV and exported to every embedded target.

The package is split into one module per job:

* :mod:`tinylstm.data`       -- load/clean/split/scale a CSV, download the reference data set
* :mod:`tinylstm.model`      -- build the Keras network
* :mod:`tinylstm.train`      -- deterministic training
* :mod:`tinylstm.bundle`     -- the framework-free weight bundle every exporter reads
* :mod:`tinylstm.reference`  -- the float golden model (numpy forward pass over a bundle)
* :mod:`tinylstm.evaluate`   -- metrics and baselines
* :mod:`tinylstm.plots`      -- figures
* :mod:`tinylstm.backends`   -- the ``--backend`` registry used by ``tinylstm predict``
* :mod:`tinylstm.export`     -- the ``tinylstm export`` registry (one module per target)
"""

__version__ = "0.1.0"
