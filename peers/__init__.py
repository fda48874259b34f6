"""Real third-party OpenAI-compatible servers, started here on loopback and validated side by side.

One module per peer says how to start and stop it and regenerates ``docs/reports/<peer>.md``.
"""
