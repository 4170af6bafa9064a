"""fleetform's policy rules (DESIGN §6): plain functions over Pulumi's camelCase resource
properties, importable without starting anything.

:mod:`fleetform_policies.rules` holds the rules; :mod:`fleetform_policies.pack` turns them into
``pulumi_policy`` policies. Only ``policies/__main__.py`` (the CrossGuard pack that
``pulumi preview --policy-pack policies`` runs in a virtualenv of its own) constructs the
``PolicyPack``, because constructing it starts a server. This package imports nothing of the rest
of fleetform, so that virtualenv needs only ``policies/requirements.txt``, and the pack folder is
self-contained (``pulumi policy publish`` uploads it as it is). The package installs with
fleetform too (``fleetform plan`` runs the same rules); its name cannot collide with a user's.
"""
