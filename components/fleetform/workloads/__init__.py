"""Workloads: the same microservice on every cluster (DESIGN §4)."""

from .exposure import Exposure, exposure_for
from .microservice import AppNamespace, Microservice

__all__ = ["AppNamespace", "Exposure", "Microservice", "exposure_for"]
