"""A pytest plugin for grpc-double: one fake server per test run, one session per test.

Copy this file into your tests. It starts `grpc-double serve` with the admin API, waits for its
ready file (no sleeps), and gives each test a `fake` whose stubs, journal and verifications are
private to that test (the `x-grpc-double-session` header), so tests may run in parallel against
one server.

    GRPC_DOUBLE_BIN   the binary (default: grpc-double on PATH)
    GRPC_DOUBLE_ARGS  extra serve arguments, e.g. "--proto proto/ --fixtures fixtures/"
"""

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SESSION_HEADER = "x-grpc-double-session"


class Fake:
    """One test's view of the shared server."""

    def __init__(self, grpc_addr, admin_url, session):
        self.addr = grpc_addr
        self.admin = admin_url
        self.session = session
        # Pass these with every gRPC call of the test: `stub.GetUser(req, metadata=fake.metadata)`.
        self.metadata = ((SESSION_HEADER, session),)

    def _request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.admin + path,
            data=data,
            method=method,
            headers={"content-type": "application/json", SESSION_HEADER: self.session},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def stub(self, stub):
        """Adds a stub (the fixture language as a dict) for this test only."""
        status, answer = self._request("POST", "/api/stubs", stub)
        if status != 201:
            raise AssertionError(f"the stub does not load: {json.dumps(answer, indent=2)}")
        return answer["stubs"][0]

    def calls(self, method=None):
        """The calls this test sent, oldest first, each with its requests and replies as dicts."""
        path = "/api/journal" + (f"?method={method}" if method else "")
        return self._request("GET", path)[1]["calls"]

    def verify(self, method, when=None, expect=1):
        """Asserts how many calls matched `when`; the failure lists the closest misses."""
        status, answer = self._request(
            "POST", "/api/verify", {"method": method, "when": when or {}, "expect": expect}
        )
        if status != 200:
            if "error" in answer:
                raise AssertionError(f"invalid verification: {json.dumps(answer, indent=2)}")
            lines = [f"{method}: expected {answer['expected']}, got {answer['matched']}"]
            for call in answer["calls"][:3]:
                lines.append(f"  call #{call['seq']} matched: {call['requests']}")
            for miss in answer["near_misses"]:
                lines.append(f"  call #{miss['call']['seq']} came close: {'; '.join(miss['reasons'])}")
            raise AssertionError("\n".join(lines))
        return answer


def _start(binary, work_dir):
    ready = os.path.join(work_dir, "ready.json")
    args = shlex.split(os.environ.get("GRPC_DOUBLE_ARGS", ""))
    process = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
         "--ready-file", ready, "-q", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not os.path.exists(ready):
        if process.poll() is not None:
            raise RuntimeError(f"grpc-double exited: {process.stderr.read().decode()}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("grpc-double did not become ready")
        time.sleep(0.02)  # polling the ready file
    with open(ready) as f:
        return process, json.load(f)


@pytest.fixture(scope="session")
def grpc_double_server():
    binary = os.environ.get("GRPC_DOUBLE_BIN", "grpc-double")
    with tempfile.TemporaryDirectory() as work_dir:
        process, info = _start(binary, work_dir)
        yield info
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def fake(grpc_double_server):
    return Fake(
        grpc_double_server["grpc"][0],
        "http://" + grpc_double_server["admin"],
        f"test-{uuid.uuid4().hex[:12]}",
    )


@pytest.fixture(scope="session")
def users():
    """The Python modules generated from proto/users.proto (grpcio-tools, no protoc install)."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp()
    code = protoc.main(["grpc_tools.protoc", f"-I{os.path.join(ROOT, 'proto')}",
                        f"--python_out={out}", f"--grpc_python_out={out}", "users.proto"])
    assert code == 0, "grpc_tools.protoc failed"
    sys.path.insert(0, out)
    import users_pb2
    import users_pb2_grpc

    return users_pb2, users_pb2_grpc
