"""fleetform's policy rules (DESIGN §6): plain functions over Pulumi's camelCase resource
properties, importable without starting anything.

:mod:`fleetform.policy.rules` holds the rules; :mod:`fleetform.policy.pack` turns them into
``pulumi_policy`` policies. Only ``policies/__main__.py`` (the CrossGuard pack that
``pulumi preview --policy-pack policies`` runs in a virtualenv of its own) constructs the
``PolicyPack``, because constructing it starts a server. This package imports nothing of the rest
of fleetform, so that virtualenv needs only ``policies/requirements.txt``.
"""
