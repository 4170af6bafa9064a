"""Hybrid-cloud rollouts (DESIGN §7): ``fleetform rollout`` moves a release across clusters and
stacks in waves, gated on health, with halt, rollback and resume.

- :mod:`.spec`: the rollout file (:class:`~.spec.RolloutSpec`) and its checks against the stacks;
- :mod:`.release`: the stacks as a rollout reads them and the ``fleetform:release`` value of each state;
- :mod:`.dryrun`: ``--dry-run``, every wave planned offline with the plan engine;
- :mod:`.engine`: waves, parallel targets, gates, bake, halt / rollback, the journal, resume;
- :mod:`.gates`: the HTTP and Prometheus health gates;
- :mod:`.run`: the real stack runner (Automation API, a child process per update) and the command.
"""
