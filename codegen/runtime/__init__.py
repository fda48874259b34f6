"""The hand-written runtime of every generated client package.

Each ``_*.py`` module here is copied into the output package by ``codegen.pipeline`` with the
generated header put in front and nothing else changed, so what is linted, type-checked and tested
here is byte for byte what runs there (the split openai-python uses: a hand-written core beside
generated resources). The modules import only each other, the standard library, ``requests``,
``httpx`` and ``pydantic``; what depends on the spec (models, rules, resources, the client classes
with their resource attributes and defaults) is generated beside them. This ``__init__`` is not
copied.
"""
