"""The ``voiceagent`` command's implementation, imported only by :mod:`voiceagent.cli`.

rich is imported here and nowhere in the library, so ``import voiceagent`` never pays
for it.
"""
