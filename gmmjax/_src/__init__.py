"""gmmjax's implementation, in layers; each imports only from the layers below it.

``math`` < ``core`` < ``kernels`` < ``ot`` < ``distances`` < ``learner`` < ``app``
(``xla_flags`` below them all). The public names are re-exported by :mod:`gmmjax`;
``tests/test_layers.py`` reads the imports and keeps the rule.
"""
