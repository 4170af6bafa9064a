"""Health gates a rollout target must pass after its update and through its bake.

- :func:`http_gate`: each service's health path through the cluster's own load balancer (what a
  client reaches), ``successes`` consecutive 2xx answers; a non-2xx, a redirect (the health path
  must answer itself), a connection error or a slow answer resets the count.
- :func:`prometheus_gate`: an instant query (Prometheus HTTP API, ``GET /api/v1/query``,
  https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries) whose every sample
  must be at most ``max``. No data fails: a query that matches nothing (a metric renamed, a
  scrape down) would otherwise pass every rollout.

Both stop promptly when ``stop`` is set (Ctrl-C) and never wait past their ``timeout``.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass(frozen=True)
class HttpTarget:
    """One service's health URL on one cluster."""

    service: str
    cluster: str
    url: str


@dataclass
class GateResult:
    """A gate's verdict: ``detail`` is one line saying what passed or which target failed and why."""

    ok: bool
    gate: str
    detail: str
    per_target: dict[str, str] = field(default_factory=dict)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None  # a 3xx is the answer, not a hop to follow


# No proxy: the probe must reach the load balancer the way a client does, not through a CI
# runner's HTTP(S)_PROXY.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def _probe(url: str, request_timeout: float) -> tuple[bool, str]:
    """(2xx?, what happened) for one GET."""
    try:
        with _OPENER.open(urllib.request.Request(url, method="GET"), timeout=request_timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"no answer ({reason})"
    return 200 <= status < 300, f"HTTP {status}"


def http_gate(targets: list[HttpTarget], *, successes: int, timeout: float, interval: float = 2.0,
              request_timeout: float = 5.0, clock: Callable[[], float] = time.monotonic,
              sleep: Optional[Callable[[float], None]] = None, stop: Optional[threading.Event] = None) -> GateResult:
    """Probe every target until each has answered ``successes`` times in a row with a 2xx, or
    ``timeout`` seconds have passed (for all of them together), or ``stop`` is set."""
    stop = stop or threading.Event()
    wait = sleep or (lambda seconds: stop.wait(seconds))
    deadline = clock() + timeout
    # Counted per target, not per URL: services behind one shared load balancer (an ingress) can
    # have the same health URL, and each must earn its own run of successes.
    streak = [0] * len(targets)
    last = ["not probed"] * len(targets)
    while True:
        for i, t in enumerate(targets):
            if streak[i] >= successes or stop.is_set():
                continue
            ok, what = _probe(t.url, min(request_timeout, max(0.1, deadline - clock())))
            streak[i] = streak[i] + 1 if ok else 0
            last[i] = what
        per = {f"{t.service}@{t.cluster}": f"{last[i]}, {streak[i]}/{successes} in a row" for i, t in enumerate(targets)}
        pending = [i for i in range(len(targets)) if streak[i] < successes]
        if not pending:
            return GateResult(True, "http", f"{len(targets)} health path(s) answered {successes} times in a row", per)
        if stop.is_set():
            return GateResult(False, "http", "stopped before the health paths passed", per)
        if clock() >= deadline:
            i = pending[0]
            first = targets[i]
            return GateResult(False, "http", f"{first.service} on {first.cluster} ({first.url}): {last[i]}, "
                              f"{streak[i]}/{successes} in a row after {timeout:g}s", per)
        wait(min(interval, max(0.0, deadline - clock())))


def prometheus_gate(url: str, query: str, max_value: float, *, timeout: float, request_timeout: float = 5.0,
                    interval: float = 5.0, clock: Callable[[], float] = time.monotonic,
                    sleep: Optional[Callable[[float], None]] = None,
                    stop: Optional[threading.Event] = None) -> GateResult:
    """Run ``query`` at ``url``; pass when every sample is at most ``max_value``. Only a
    Prometheus that cannot be reached is retried (until ``timeout``); an answer is final."""
    stop = stop or threading.Event()
    wait = sleep or (lambda seconds: stop.wait(seconds))
    deadline = clock() + timeout
    endpoint = url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    while True:
        try:
            with urllib.request.urlopen(endpoint, timeout=request_timeout) as response:
                body = json.loads(response.read().decode())
            break
        except urllib.error.HTTPError as exc:
            # 429 and 5xx: Prometheus busy or restarting, retried like no answer; other codes are final.
            if exc.code != 429 and exc.code < 500 or stop.is_set() or clock() >= deadline:
                return GateResult(False, "prometheus", f"{query}: Prometheus answered HTTP {exc.code}")
            wait(min(interval, max(0.0, deadline - clock())))
        except ValueError as exc:  # an answer that is not JSON is an answer: final, not retried
            return GateResult(False, "prometheus", f"{query}: {url} answered something other than JSON ({exc})")
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if stop.is_set() or clock() >= deadline:
                return GateResult(False, "prometheus", f"{query}: no answer from {url} ({getattr(exc, 'reason', exc)})")
            wait(min(interval, max(0.0, deadline - clock())))
    return judge(query, body, max_value)


def judge(query: str, body: object, max_value: float) -> GateResult:
    """The verdict on a Prometheus API answer (``{"status": "success", "data": {"resultType", "result"}}``)."""
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        return GateResult(False, "prometheus", f"{query}: query failed ({error or 'no success status'})")
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        samples = [result[1]]
    elif kind == "vector" and isinstance(result, list):
        samples = [s.get("value", [None, None])[1] for s in result if isinstance(s, dict)]
    else:
        return GateResult(False, "prometheus", f"{query}: a {kind} result; allowed: a vector or a scalar")
    if not samples:
        return GateResult(False, "prometheus", f"{query}: no data (the query matched no series)")
    values = []
    for sample in samples:
        try:
            values.append(float(sample))
        except (TypeError, ValueError):
            values.append(math.nan)
    worst = max(values, key=lambda v: math.inf if math.isnan(v) else v)
    if math.isnan(worst) or worst > max_value:
        return GateResult(False, "prometheus", f"{query}: {worst:g} > max {max_value:g}")
    return GateResult(True, "prometheus", f"{query}: {worst:g} <= max {max_value:g}")


def urls_for(address: str, service_port: int, health_path: str, scheme: str = "http") -> str:
    """The URL of ``health_path`` on a load balancer ``address`` (a hostname, an IPv4 or an IPv6 address)."""
    host = f"[{address}]" if ":" in address and not address.startswith("[") else address
    return f"{scheme}://{host}:{service_port}{health_path}"
