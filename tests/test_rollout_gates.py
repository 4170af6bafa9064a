"""The rollout's health gates against a real HTTP server on 127.0.0.1: healthy, failing, flapping,
slow, redirecting, refusing; and Prometheus' query API answering canned documents."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fleetform.rollout.gates import HttpTarget, http_gate, judge, prometheus_gate, urls_for

FLAP = [200, 500, 200, 200, 200]


class Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}
    prometheus: dict = {}

    def log_message(self, format, *args):  # noqa: A002 (the base class's name): quiet
        pass

    def do_GET(self):  # noqa: N802
        n = Handler.hits[self.path.split("?")[0]] = Handler.hits.get(self.path.split("?")[0], 0) + 1
        if self.path == "/healthy":
            self._send(200)
        elif self.path == "/failing":
            self._send(500)
        elif self.path == "/flapping":
            self._send(FLAP[min(n - 1, len(FLAP) - 1)])
        elif self.path == "/slow":
            time.sleep(0.6)
            self._send(200)
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/healthy")
            self.end_headers()
        elif self.path.startswith("/notjson/api/v1/query"):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")
        elif self.path.startswith("/api/v1/query"):
            body = json.dumps(Handler.prometheus).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)
        else:
            self._send(404)

    def _send(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server() -> Iterator[str]:
    Handler.hits = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def gate(url: str, **kw):
    kw.setdefault("successes", 3)
    kw.setdefault("timeout", 1.5)
    kw.setdefault("interval", 0.01)
    kw.setdefault("request_timeout", 0.3)
    return http_gate([HttpTarget("web", "c1", url)], **kw)


def test_healthy_passes_after_the_consecutive_successes(server):
    result = gate(server + "/healthy")
    assert result.ok and Handler.hits["/healthy"] == 3
    assert result.per_target == {"web@c1": "HTTP 200, 3/3 in a row"}


def test_failing_fails_at_the_timeout_naming_target_and_cause(server):
    start = time.monotonic()
    result = gate(server + "/failing", timeout=0.5)
    assert not result.ok and 0.5 <= time.monotonic() - start < 1.5
    assert result.detail.startswith(f"web on c1 ({server}/failing): HTTP 500, 0/3 in a row after 0.5s")


def test_flapping_needs_an_unbroken_run(server):
    assert gate(server + "/flapping").ok
    # 200 then 500 reset the count: five probes to see 200 three times in a row.
    assert Handler.hits["/flapping"] == 5


def test_slow_answers_count_as_failures(server):
    result = gate(server + "/slow", timeout=0.8, request_timeout=0.2)
    assert not result.ok and "no answer" in result.detail


def test_a_redirect_is_not_healthy(server):
    result = gate(server + "/redirect", timeout=0.3)
    assert not result.ok and "HTTP 302" in result.detail and "/healthy" not in Handler.hits


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = gate(f"http://127.0.0.1:{port}/healthz", timeout=0.3)
    assert not result.ok and "no answer" in result.detail


def test_every_target_must_pass(server):
    result = http_gate([HttpTarget("web", "c1", server + "/healthy"), HttpTarget("api", "c1", server + "/failing")],
                       successes=2, timeout=0.4, interval=0.01, request_timeout=0.3)
    assert not result.ok and result.detail.startswith("api on c1")
    assert result.per_target["web@c1"] == "HTTP 200, 2/2 in a row"


def test_targets_sharing_a_url_each_need_their_own_run(server):
    # Two services behind one ingress: same health URL, each counted on its own.
    shared = server + "/healthy"
    result = http_gate([HttpTarget("web", "c1", shared), HttpTarget("api", "c1", shared)],
                       successes=3, timeout=1.5, interval=0.01, request_timeout=0.3)
    assert result.ok and Handler.hits["/healthy"] == 6
    assert result.per_target == {"web@c1": "HTTP 200, 3/3 in a row", "api@c1": "HTTP 200, 3/3 in a row"}


def test_slow_names_the_target(server):
    result = gate(server + "/slow", timeout=0.5, request_timeout=0.1)
    assert result.detail.startswith(f"web on c1 ({server}/slow): no answer")


def test_prometheus_non_json_answer_is_final(server):
    start = time.monotonic()
    result = prometheus_gate(server + "/notjson", "q", 1, timeout=5)
    assert not result.ok and "other than JSON" in result.detail
    assert time.monotonic() - start < 1


def test_stop_aborts_promptly(server):
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    start = time.monotonic()
    result = gate(server + "/failing", timeout=30, interval=0.05, stop=stop)
    assert not result.ok and result.detail == "stopped before the health paths passed"
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("doc, ok, detail", [
    ({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "0.2"]},
                                                                      {"metric": {}, "value": [1, "0.4"]}]}},
     True, "q: 0.4 <= max 0.5"),
    ({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "0.9"]}]}},
     False, "q: 0.9 > max 0.5"),
    ({"status": "success", "data": {"resultType": "vector", "result": []}}, False,
     "q: no data (the query matched no series)"),
    ({"status": "success", "data": {"resultType": "scalar", "result": [1, "0.1"]}}, True, "q: 0.1 <= max 0.5"),
    ({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "NaN"]}]}},
     False, "q: nan > max 0.5"),
    ({"status": "error", "errorType": "bad_data", "error": "parse error"}, False, "q: query failed (parse error)"),
    ({"status": "success", "data": {"resultType": "matrix", "result": []}}, False,
     "q: a matrix result; allowed: a vector or a scalar"),
])
def test_prometheus_verdicts(server, doc, ok, detail):
    Handler.prometheus = doc
    start = time.monotonic()
    result = prometheus_gate(server, "q", 0.5, timeout=5)
    assert (result.ok, result.detail) == (ok, detail)
    assert time.monotonic() - start < 1  # an answer is final: no waiting for the timeout
    assert judge("q", doc, 0.5).ok == ok


def test_prometheus_unreachable_is_retried_until_the_timeout():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = prometheus_gate(f"http://127.0.0.1:{port}", "q", 1, timeout=0.3, interval=0.05)
    assert not result.ok and result.detail.startswith(f"q: no answer from http://127.0.0.1:{port}")


def test_urls_for():
    assert urls_for("198.51.100.7", 80, "/healthz") == "http://198.51.100.7:80/healthz"
    assert urls_for("web.elb.amazonaws.com", 8443, "/ready", "https") == "https://web.elb.amazonaws.com:8443/ready"
    assert urls_for("2001:db8::1", 80, "/h") == "http://[2001:db8::1]:80/h"
