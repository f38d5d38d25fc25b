"""A real `berth serve` for the metrics tests: started with a YAML config in a temporary
directory on port 0 (the server writes its ports to files), its stderr (the logs) kept in a
file, stopped with SIGTERM. Plus a small HTTP client and an OCI image push."""

import base64
import hashlib
import http.client
import json
import os
import signal
import subprocess
import tempfile
import time

PATIENCE = 30.0


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower(), "")


def request(port, method, path, body=b"", headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PATIENCE)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        data = answer.read()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
    finally:
        connection.close()


def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def wait_for_file(path, process):
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as file:
                text = file.read().strip()
            if text:
                return int(text)
        if process.poll() is not None:
            raise RuntimeError(f"berth exited with {process.returncode} before writing {path}")
        time.sleep(0.05)
    raise RuntimeError(f"berth wrote no {path} in {PATIENCE} s")


class Berth:
    """Starts berth with `config` (a dict, written as YAML-compatible JSON)."""

    def __init__(self, binary, config, env=None):
        self.dir = tempfile.TemporaryDirectory(prefix="berth-metrics-")
        root = self.dir.name
        config = dict(config)
        config.setdefault("listen", "127.0.0.1:0")
        config.setdefault("data", os.path.join(root, "data"))
        self.config_file = os.path.join(root, "berth.yaml")
        # JSON is YAML.
        with open(self.config_file, "w") as out:
            json.dump(config, out)
        self.log_file = os.path.join(root, "berth.log")
        port_file = os.path.join(root, "port")
        metrics_port_file = os.path.join(root, "metrics-port")
        environment = dict(os.environ)
        environment.update(env or {})
        self.stderr = open(self.log_file, "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--config", self.config_file, "--port-file", port_file,
             "--metrics-port-file", metrics_port_file],
            stdout=subprocess.DEVNULL, stderr=self.stderr, env=environment)
        self.port = wait_for_file(port_file, self.process)
        self.metrics_port = None
        if "metrics" in config and config["metrics"].get("listen"):
            self.metrics_port = wait_for_file(metrics_port_file, self.process)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=PATIENCE)
        self.stderr.close()

    def close(self):
        self.stop()
        self.dir.cleanup()

    def log_lines(self):
        self.stderr.flush()
        with open(self.log_file) as log:
            return log.read().splitlines()

    def json_log(self, predicate):
        """The JSON log lines (objects) for which predicate holds, waiting for the async log."""
        deadline = time.monotonic() + PATIENCE
        while True:
            found = []
            for line in self.log_lines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if predicate(record):
                    found.append(record)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def get(self, path, headers=None, port=None):
        return request(port or self.port, "GET", path, headers=headers)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_image(port, repository, tag, layer, headers=None):
    """Pushes a one-layer OCI image (monolithic blob uploads); returns the manifest PUT."""
    headers = headers or {}
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]}}).encode()
    for blob in (config, layer):
        answer = request(port, "POST", f"/v2/{repository}/blobs/uploads/?digest={sha256(blob)}",
                         body=blob, headers=dict(headers, **{"Content-Type":
                                                             "application/octet-stream"}))
        if answer.status != 201:
            raise RuntimeError(f"blob upload: {answer.status} {answer.body!r}")
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(layer), "size": len(layer)}],
    }).encode()
    return request(port, "PUT", f"/v2/{repository}/manifests/{tag}", body=manifest,
                   headers=dict(headers, **{"Content-Type":
                                            "application/vnd.oci.image.manifest.v1+json"}))
