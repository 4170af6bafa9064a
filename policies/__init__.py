"""fleetform's CrossGuard policy pack (DESIGN §6).

Rules are plain functions in :mod:`policies.rules`, importable without starting anything;
only ``policies/__main__.py`` constructs the ``PolicyPack`` (constructing it starts a server).
"""
