"""Black-box tests of /metrics, the metrics listener, the dashboard and the JSON logs, against
a real `berth serve`. Scrapes are parsed with Debian's python3-prometheus-client (the reference
parser of the text format), so run this with Debian's /usr/bin/python3.

    /usr/bin/python3 tests/metrics/metrics_test.py build/test/berth
"""

import json
import os
import re
import sys
import time
import unittest

from prometheus_client.parser import text_string_to_metric_families

from berth_server import PATIENCE, Berth, basic, push_image, request

BINARY = None
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DASHBOARD = os.path.join(REPO_ROOT, "deploy", "grafana", "berth.json")


class Scrape:
    """A parsed scrape: families by name, and samples by (name, labels)."""

    def __init__(self, text):
        self.families = list(text_string_to_metric_families(text))
        self.samples = {}
        self.names = set()
        for family in self.families:
            self.names.add(family.name)
            if family.type == "counter":
                self.names.add(family.name + "_total")
            for sample in family.samples:
                self.names.add(sample.name)
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name, **labels):
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def family(self, name):
        return next(f for f in self.families if f.name == name)


def scrape(port, headers=None):
    answer = request(port, "GET", "/metrics", headers=headers)
    assert answer.status == 200, (answer.status, answer.body)
    assert answer.header("Content-Type").startswith("text/plain; version=0.0.4"), answer.headers
    return Scrape(answer.body.decode())


def scrape_until(port, counted, headers=None):
    """Scrapes until counted(scrape) holds or PATIENCE has passed, and returns the last scrape:
    a request is counted just after its response is written, so a scrape right after it may not
    see it yet (a fixed sleep was either slow or, on a loaded machine, too short)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        got = scrape(port, headers=headers)
        if counted(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


class OpenServer(unittest.TestCase):
    """Access control off, a metrics listener, JSON logs, 127.0.0.1 a trusted proxy."""

    @classmethod
    def setUpClass(cls):
        cls.berth = Berth(BINARY, {
            # debug: a collection that removed nothing logs its summary at debug level.
            "log": {"format": "json", "level": "debug"},
            "auth": {"enabled": "false"},
            "metrics": {"listen": "127.0.0.1:0"},
            "http": {"trusted_proxies": "127.0.0.1, ::1"},
        })

    @classmethod
    def tearDownClass(cls):
        cls.berth.close()

    def test_a_push_and_a_pull_move_their_counters(self):
        port = self.berth.port
        before = scrape(self.berth.metrics_port)
        layer = os.urandom(3000)
        put = push_image(port, "counted/app", "v1", layer)
        self.assertEqual(put.status, 201, put.body)
        pulled = request(port, "GET", "/v2/counted/app/manifests/v1", headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json"})
        self.assertEqual(pulled.status, 200)
        missing = request(port, "GET", "/v2/counted/app/manifests/nope")
        self.assertEqual(missing.status, 404)

        def counted(got):
            def grew(name, **labels):
                return got.value(name, **labels) > before.value(name, **labels)
            return (grew("berth_http_requests_total", route="manifest", method="GET", code="404")
                    and grew("berth_pulls_total") and grew("berth_pushes_total")
                    and got.value("berth_http_requests_in_flight") == 1)
        after = scrape_until(self.berth.metrics_port, counted)

        def moved(name, **labels):
            return after.value(name, **labels) - before.value(name, **labels)

        self.assertEqual(moved("berth_http_requests_total", route="manifest", method="PUT",
                               code="201"), 1)
        self.assertEqual(moved("berth_http_requests_total", route="manifest", method="GET",
                               code="200"), 1)
        self.assertEqual(moved("berth_http_requests_total", route="manifest", method="GET",
                               code="404"), 1)
        self.assertEqual(moved("berth_http_requests_total", route="upload", method="POST",
                               code="201"), 2)
        self.assertEqual(moved("berth_pushes_total"), 1)
        self.assertEqual(moved("berth_pulls_total"), 1)
        self.assertGreaterEqual(moved("berth_http_request_bytes_total", route="upload"),
                                len(layer))
        self.assertGreater(moved("berth_http_response_bytes_total", route="manifest"), 0)
        self.assertEqual(moved("berth_http_request_duration_seconds_count", route="manifest",
                               method="PUT"), 1)
        self.assertEqual(moved("berth_http_request_duration_seconds_bucket", route="manifest",
                               method="PUT", le="+Inf"), 1)
        # Nothing is in flight between requests but the scrape itself.
        self.assertEqual(after.value("berth_http_requests_in_flight"), 1)
        self.assertEqual(after.value("berth_uploads_in_flight"), 0)
        self.assertEqual(after.family("berth_http_request_duration_seconds").type, "histogram")
        self.assertEqual(after.value("berth_pool_threads", pool="maintenance"), 2)
        self.assertGreaterEqual(after.value("berth_pool_threads", pool="lookups"), 2)
        self.assertEqual(after.value("berth_build_info", version=after.family(
            "berth_build_info").samples[0].labels["version"], metadata="sqlite",
            storage="filesystem"), 1)
        self.assertGreater(after.value("process_start_time_seconds"), 1.6e9)
        # No label holds a repository or a user.
        for family in after.families:
            for sample in family.samples:
                self.assertFalse({"repository", "user", "name"} & set(sample.labels), sample)

    def test_storage_per_project_comes_from_the_database(self):
        put = push_image(self.berth.port, "stored/app", "v1", os.urandom(5000))
        self.assertEqual(put.status, 201)
        # The database figures are cached for a few seconds.
        deadline = time.monotonic() + PATIENCE
        while True:
            got = scrape(self.berth.metrics_port)
            if got.value("berth_project_storage_bytes", project="stored") >= 5000:
                break
            self.assertLess(time.monotonic(), deadline, "no storage figure for project stored")
            time.sleep(0.5)
        self.assertEqual(got.value("berth_project_repositories", project="stored"), 1)
        self.assertEqual(got.value("berth_database_figures_up"), 1)

    def test_the_main_listener_serves_metrics_to_everyone_without_access_control(self):
        got = scrape(self.berth.port)
        self.assertIn("berth_http_requests_total", got.names)

    def test_the_metrics_listener_serves_nothing_else(self):
        for path in ["/v2/", "/api/v1/system", "/healthz", "/metricsx", "/"]:
            answer = request(self.berth.metrics_port, "GET", path)
            self.assertEqual(answer.status, 404, path)
        answer = request(self.berth.metrics_port, "POST", "/metrics")
        self.assertEqual(answer.status, 405)

    def test_a_collection_is_counted_and_logged_with_its_figures(self):
        before = scrape(self.berth.metrics_port)
        answer = request(self.berth.port, "POST", "/api/v1/gc", body=b"{}",
                         headers={"Content-Type": "application/json"})
        self.assertEqual(answer.status, 200, answer.body)
        after = scrape_until(self.berth.metrics_port, lambda got: got.value(
            "berth_gc_runs_total", result="ok") > before.value("berth_gc_runs_total", result="ok"))
        self.assertEqual(after.value("berth_gc_runs_total", result="ok") -
                         before.value("berth_gc_runs_total", result="ok"), 1)
        self.assertEqual(after.value("berth_gc_duration_seconds_count") -
                         before.value("berth_gc_duration_seconds_count"), 1)
        lines = self.berth.json_log(lambda r: r.get("event") == "gc" and
                                    r.get("trigger") == "admin API")
        self.assertTrue(lines, "no JSON gc line with fields")
        for field in ["bytes_reclaimed", "blobs_removed", "manifests_removed", "duration_ms",
                      "dry_run", "errors"]:
            self.assertIn(field, lines[-1])
        self.assertIn("garbage collection", lines[-1]["msg"])

    def test_the_access_line_carries_the_request_fields(self):
        put = push_image(self.berth.port, "logged/app", "v1", os.urandom(100),
                         headers={"User-Agent": "metrics-test/1.0 (black box)"})
        self.assertEqual(put.status, 201)
        request_id = put.header("X-Request-Id")
        lines = self.berth.json_log(lambda r: r.get("request_id") == request_id)
        self.assertEqual(len(lines), 1, request_id)
        line = lines[0]
        self.assertEqual(line["msg"], "request")
        self.assertEqual(line["method"], "PUT")
        self.assertEqual(line["route"], "manifest")
        self.assertEqual(line["repository"], "logged/app")
        self.assertEqual(line["status"], 201)
        self.assertGreater(line["bytes_in"], 0)
        self.assertIn("bytes_out", line)
        self.assertIn("duration_us", line)
        self.assertEqual(line["user"], "-")
        self.assertTrue(line["remote"].startswith("127.0.0.1:"), line["remote"])
        self.assertEqual(line["client"], "127.0.0.1")
        self.assertEqual(line["user_agent"], "metrics-test/1.0 (black box)")
        self.assertIn("time", line)

    def test_a_trusted_proxy_keeps_its_request_id_if_it_is_a_valid_one(self):
        kept = request(self.berth.port, "GET", "/v2/", headers={"X-Request-Id": "edge-7f3a.42"})
        self.assertEqual(kept.header("X-Request-Id"), "edge-7f3a.42")
        self.assertTrue(self.berth.json_log(lambda r: r.get("request_id") == "edge-7f3a.42"))
        for bad in ["a" * 129, "two words", "quote\"d", ""]:
            answer = request(self.berth.port, "GET", "/v2/", headers={"X-Request-Id": bad})
            self.assertNotEqual(answer.header("X-Request-Id"), bad)
            self.assertRegex(answer.header("X-Request-Id"), r"^[0-9a-f]{16}$")

    def test_behind_a_trusted_proxy_the_access_line_names_the_forwarded_client(self):
        # The rightmost address the trusted proxy did not add itself is the client's.
        answer = request(self.berth.port, "GET", "/v2/",
                         headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.7"})
        lines = self.berth.json_log(
            lambda r: r.get("request_id") == answer.header("X-Request-Id"))
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["client"], "203.0.113.7")
        self.assertTrue(lines[0]["remote"].startswith("127.0.0.1:"), lines[0]["remote"])

    def test_every_metric_of_the_dashboard_is_in_a_scrape(self):
        with open(DASHBOARD) as file:
            dashboard = json.load(file)
        expressions = []

        def walk(node):
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "expr" and isinstance(value, str):
                        expressions.append(value)
                    else:
                        walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(dashboard)
        self.assertGreaterEqual(len(expressions), 10)
        # Traffic on every route the dashboard shows, so that label sets exist.
        push_image(self.berth.port, "dash/app", "v1", os.urandom(10))
        got = scrape(self.berth.metrics_port)
        referenced = set()
        for expression in expressions:
            referenced |= set(re.findall(r"\b(?:berth|process)_[a-z_]+\b", expression))
        self.assertTrue(referenced)
        self.assertEqual(sorted(referenced - got.names), [])


class GuardedServer(unittest.TestCase):
    """Access control on: /metrics on the main listener is for administrators; 10.9.9.9 is the
    only trusted proxy, so the test's own X-Request-Id is ignored."""

    @classmethod
    def setUpClass(cls):
        cls.berth = Berth(BINARY, {
            "log": {"format": "json"},
            "auth": {"enabled": "true"},
            "http": {"trusted_proxies": "10.9.9.9/32"},
        }, env={"BERTH_ADMIN_PASSWORD": "admin-secret-0"})
        cls.admin = basic("admin", "admin-secret-0")
        made = request(cls.berth.port, "POST", "/api/v1/users",
                       body=json.dumps({"name": "bob", "password": "bob-secret-00"}).encode(),
                       headers=dict(cls.admin, **{"Content-Type": "application/json"}))
        assert made.status in (200, 201), (made.status, made.body)

    @classmethod
    def tearDownClass(cls):
        cls.berth.close()

    def test_only_administrators_scrape_the_main_listener(self):
        anonymous = request(self.berth.port, "GET", "/metrics")
        self.assertEqual(anonymous.status, 401)
        self.assertIn("Basic", anonymous.header("WWW-Authenticate"))
        self.assertNotIn(b"berth_http_requests_total", anonymous.body)
        bob = request(self.berth.port, "GET", "/metrics", headers=basic("bob", "bob-secret-00"))
        self.assertEqual(bob.status, 403)
        self.assertNotIn(b"berth_http_requests_total", bob.body)
        got = scrape_until(self.berth.port, lambda got: got.value(
            "berth_http_requests_total", route="metrics", method="GET", code="403") >= 1,
            headers=self.admin)
        self.assertIn("berth_http_requests_total", got.names)
        self.assertEqual(got.value("berth_http_requests_total", route="metrics", method="GET",
                                   code="403"), 1)

    def test_failed_logins_are_counted(self):
        before = scrape(self.berth.port, headers=self.admin)
        wrong = request(self.berth.port, "GET", "/metrics", headers=basic("bob", "wrong-one"))
        self.assertEqual(wrong.status, 401)
        after = scrape_until(self.berth.port, lambda got: got.value(
            "berth_login_failures_total") > before.value("berth_login_failures_total"),
            headers=self.admin)
        self.assertEqual(after.value("berth_login_failures_total") -
                         before.value("berth_login_failures_total"), 1)

    def test_an_untrusted_peer_gets_a_new_request_id(self):
        answer = request(self.berth.port, "GET", "/v2/", headers={"X-Request-Id": "forged-1"})
        self.assertNotEqual(answer.header("X-Request-Id"), "forged-1")
        self.assertRegex(answer.header("X-Request-Id"), r"^[0-9a-f]{16}$")
        self.assertFalse(self.berth.json_log(lambda r: r.get("request_id") == "forged-1"))

    def test_an_untrusted_peer_cannot_name_another_client(self):
        answer = request(self.berth.port, "GET", "/v2/",
                         headers={"X-Forwarded-For": "203.0.113.7"})
        lines = self.berth.json_log(
            lambda r: r.get("request_id") == answer.header("X-Request-Id"))
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["client"], "127.0.0.1")


if __name__ == "__main__":
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
