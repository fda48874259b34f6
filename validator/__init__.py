"""``oairef validate``: does an OpenAI-compatible provider honour the documented semantics?

- :mod:`.client` raw HTTP, bounded (so out-of-range values can be sent, and a broken provider costs a
  few deadlines), :mod:`.endpoints` / :mod:`.discovery` completions and chat and what the provider
  offers, :mod:`.stats` tests and power, :mod:`.probing` (with logprobs) and :mod:`.sampled` (without)
  the statistical probes, :mod:`.checks` the catalogue, :mod:`.runner` runs a selection and decides
  verdicts, :mod:`.report` renders them. See README.md.
"""
