"""Canned mock outputs per package: ``<package>.py`` defines ``OUTPUTS`` (resource type -> function
of MockResourceArgs returning extra output properties) and optionally ``INVOKES`` (token ->
function of MockCallArgs). They must import no cloud SDK: the plan of a one-cloud stack loads
only its own cloud's canned module."""
