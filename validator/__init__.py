"""``oairef validate``: does an OpenAI-compatible provider honour the documented semantics?

- :mod:`.client` raw HTTP (so out-of-range values can be sent), :mod:`.stats` tests and power,
  :mod:`.probing` prompt selection and bounded sampling loops, :mod:`.checks` the catalogue,
  :mod:`.runner` runs a selection and decides verdicts, :mod:`.report` renders them.
"""
