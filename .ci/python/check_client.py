"""An independent client, in Python grpcio, against `grpc-double serve` with its bundled default.

Usage: check_client.py PATH_TO_GRPC_DOUBLE_BINARY

Starts the binary on 127.0.0.1:0 with --ready-file, waits for the file, then checks the six
bundled behaviours, a gzip-compressed call, health, reflection and UNIMPLEMENTED for an unknown
method. Prints `N passed, N failed` and exits non-zero on any failure.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_tools import protoc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def generate_stubs(out_dir):
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{os.path.join(ROOT, 'proto')}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            "users.proto",
        ]
    )
    if code != 0:
        raise SystemExit(f"protoc failed with {code}")
    sys.path.insert(0, out_dir)


def start_server(binary, work_dir, *args):
    ready = os.path.join(work_dir, f"ready-{len(args)}.json")
    process = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--ready-file", ready, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not os.path.exists(ready):
        if process.poll() is not None:
            raise SystemExit(f"server exited early: {process.stderr.read().decode()}")
        if time.monotonic() > deadline:
            raise SystemExit("server did not become ready")
        time.sleep(0.02)  # polling for the ready file, not waiting for readiness blindly
    with open(ready) as f:
        info = json.load(f)
    return process, info["grpc"][0]


RETRY_CONFIG = json.dumps({
    "methodConfig": [{
        "name": [{"service": "userservice.UserService"}],
        "retryPolicy": {
            "maxAttempts": 4,
            "initialBackoff": "0.01s",
            "maxBackoff": "0.1s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        },
    }]
})


def v2_checks(addr, users_pb2, users_pb2_grpc):
    """The fixture language v2, as a Python client sees it."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    def retried():
        channel = grpc.insecure_channel(addr, options=[("grpc.enable_retries", 1), ("grpc.service_config", RETRY_CONFIG)])
        stub = users_pb2_grpc.UserServiceStub(channel)
        reply = stub.GetUser(users_pb2.UserRequest(user_id="flaky-1"), timeout=10)
        assert reply.name == "after 3 attempts", reply
        channel.close()

    def not_retried():
        stub = users_pb2_grpc.UserServiceStub(grpc.insecure_channel(addr, options=[("grpc.enable_retries", 0)]))
        try:
            stub.GetUser(users_pb2.UserRequest(user_id="flaky-2"), timeout=10)
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.UNAVAILABLE, err.code()
            assert ("grpc-retry-pushback-ms", "1") in list(err.trailing_metadata()), err.trailing_metadata()
            return
        raise AssertionError("expected UNAVAILABLE without retries")

    def rich_details():
        stub = users_pb2_grpc.UserServiceStub(grpc.insecure_channel(addr))
        try:
            stub.GetUser(users_pb2.UserRequest(user_id="missing-7"))
        except grpc.RpcError as err:
            status = rpc_status.from_call(err)
            assert status is not None, "no grpc-status-details-bin"
            assert status.message == "no user missing-7", status.message
            info = error_details_pb2.ErrorInfo()
            assert status.details[0].Unpack(info), status.details[0]
            assert (info.reason, info.metadata["user_id"]) == ("USER_NOT_FOUND", "missing-7"), info
            bad = error_details_pb2.BadRequest()
            assert status.details[1].Unpack(bad), status.details[1]
            assert bad.field_violations[0].description == "missing-7 does not exist", bad
            return
        raise AssertionError("expected NOT_FOUND")

    def deadline():
        stub = users_pb2_grpc.UserServiceStub(grpc.insecure_channel(addr))
        try:
            stub.GetUser(users_pb2.UserRequest(user_id="slow"), timeout=0.2)
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED, err.code()
            return
        raise AssertionError("expected DEADLINE_EXCEEDED")

    def bidi_metadata():
        stub = users_pb2_grpc.UserServiceStub(grpc.insecure_channel(addr))
        metadata = [("x-echo-initial", "hello"), ("x-echo-trailing-bin", b"\xab\xab\xab")]
        call = stub.Chat(iter([users_pb2.ChatMessage(message="a"), users_pb2.ChatMessage(message="b")]), metadata=metadata)
        replies = [r.message for r in call]
        assert replies == ["echo a", "echo b"], replies
        assert ("x-echo-initial", "hello") in list(call.initial_metadata()), call.initial_metadata()
        assert ("x-echo-trailing-bin", b"\xab\xab\xab") in list(call.trailing_metadata()), call.trailing_metadata()

    return [
        ("v2: fail twice then succeed, through grpcio's retry policy", retried),
        ("v2: UNAVAILABLE with grpc-retry-pushback-ms without retries", not_retried),
        ("v2: rich error details with a templated message (grpcio-status)", rich_details),
        ("v2: a delay past the deadline is DEADLINE_EXCEEDED", deadline),
        ("v2: bidi headers and trailers echoed, -bin included", bidi_metadata),
    ]


def main():
    binary = sys.argv[1]
    results = []

    def check(name, fn):
        try:
            fn()
            results.append((name, None))
            print(f"ok    {name}")
        except Exception as exc:  # noqa: BLE001 - report every failure
            results.append((name, exc))
            print(f"FAIL  {name}: {exc!r}")

    with tempfile.TemporaryDirectory() as work_dir:
        generate_stubs(work_dir)
        import users_pb2
        import users_pb2_grpc

        process, addr = start_server(binary, work_dir)
        try:
            channel = grpc.insecure_channel(addr)
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = users_pb2_grpc.UserServiceStub(channel)

            def get_user():
                reply = stub.GetUser(users_pb2.UserRequest(user_id="42"))
                assert (reply.user_id, reply.name, reply.email, reply.age) == (
                    "42", "Alice", "alice@example.com", 30), reply

            def get_user_empty():
                try:
                    stub.GetUser(users_pb2.UserRequest(user_id=""))
                except grpc.RpcError as err:
                    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.code()
                    assert err.details() == "user_id must be provided", err.details()
                    return
                raise AssertionError("expected INVALID_ARGUMENT")

            def get_user_missing():
                try:
                    stub.GetUser(users_pb2.UserRequest(user_id="missing"))
                except grpc.RpcError as err:
                    assert err.code() == grpc.StatusCode.NOT_FOUND, err.code()
                    assert err.details() == "User not found", err.details()
                    return
                raise AssertionError("expected NOT_FOUND")

            def list_users():
                users = [(u.user_id, u.name, u.email, u.age) for u in stub.ListUsers(users_pb2.ListRequest(page_size=2))]
                assert users == [("1", "Bob", "bob@example.com", 25), ("2", "Carol", "carol@example.com", 28)], users

            def create_users():
                requests = [
                    users_pb2.CreateRequest(name="Ann", email="ann@example.com", age=31),
                    users_pb2.CreateRequest(name="Ben", age=22),
                    users_pb2.CreateRequest(name="Cat", email="cat@example.com", age=40),
                ]
                summary = stub.CreateUsers(iter(requests))
                assert summary.success_count == 2, summary
                assert list(summary.failed_ids) == ["Ben"], summary

            def chat():
                messages = [users_pb2.ChatMessage(user_id=f"u{i}", message=f"m{i}", timestamp=i) for i in range(3)]
                replies = [(r.user_id, r.message, r.timestamp) for r in stub.Chat(iter(messages))]
                assert replies == [(f"u{i}", f"Echo: m{i}", 1234567890) for i in range(3)], replies

            def gzip_call():
                reply = stub.GetUser(users_pb2.UserRequest(user_id="gz"), compression=grpc.Compression.Gzip)
                assert reply.user_id == "gz", reply

            def health():
                health_stub = health_pb2_grpc.HealthStub(channel)
                for service in ["", "userservice.UserService"]:
                    reply = health_stub.Check(health_pb2.HealthCheckRequest(service=service))
                    assert reply.status == health_pb2.HealthCheckResponse.SERVING, (service, reply)

            def reflection():
                reflection_stub = reflection_pb2_grpc.ServerReflectionStub(channel)
                request = reflection_pb2.ServerReflectionRequest(list_services="")
                reply = next(reflection_stub.ServerReflectionInfo(iter([request])))
                names = sorted(s.name for s in reply.list_services_response.service)
                assert "userservice.UserService" in names, names
                assert "grpc.health.v1.Health" in names, names

            def unknown_method():
                call = channel.unary_unary("/userservice.UserService/Nope")
                try:
                    call(b"")
                except grpc.RpcError as err:
                    assert err.code() == grpc.StatusCode.UNIMPLEMENTED, err.code()
                    return
                raise AssertionError("expected UNIMPLEMENTED")

            for name, fn in [
                ("GetUser echoes the id", get_user),
                ("GetUser with empty id is INVALID_ARGUMENT", get_user_empty),
                ("GetUser missing is NOT_FOUND", get_user_missing),
                ("ListUsers streams Bob then Carol", list_users),
                ("CreateUsers counts emails, lists names without", create_users),
                ("Chat echoes each message", chat),
                ("gzip-compressed call", gzip_call),
                ("health for '' and userservice.UserService", health),
                ("reflection lists the services", reflection),
                ("unknown method is UNIMPLEMENTED", unknown_method),
            ]:
                check(name, fn)
            channel.close()
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
            check("SIGTERM stops the server with exit 0", lambda: (_ for _ in ()).throw(AssertionError(code)) if code != 0 else None)

        v2 = os.path.join(ROOT, ".ci", "python", "v2.yaml")
        process, addr = start_server(binary, work_dir, "--proto", os.path.join(ROOT, "proto", "users.proto"), "--fixtures", v2)
        try:
            for name, fn in v2_checks(addr, users_pb2, users_pb2_grpc):
                check(name, fn)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

        # TLS from grpcio (BoringSSL): a self-signed listener beside a cleartext one.
        ca_path = os.path.join(work_dir, "ca.pem")
        process, addr = start_server(binary, work_dir, "--tls-self-signed", ca_path,
                                     "--listen", "h2c://127.0.0.1:0")
        try:
            def tls_call():
                with open(ca_path, "rb") as f:
                    creds = grpc.ssl_channel_credentials(root_certificates=f.read())
                channel = grpc.secure_channel(addr, creds, options=[("grpc.ssl_target_name_override", "localhost")])
                reply = users_pb2_grpc.UserServiceStub(channel).GetUser(users_pb2.UserRequest(user_id="7"), timeout=10)
                assert reply.name == "Alice", reply

            def tls_refuses_cleartext():
                channel = grpc.insecure_channel(addr)
                try:
                    users_pb2_grpc.UserServiceStub(channel).GetUser(users_pb2.UserRequest(user_id="7"), timeout=5)
                except grpc.RpcError:
                    return
                raise AssertionError("a cleartext call to the TLS listener succeeded")

            check("TLS (self-signed) from grpcio", tls_call)
            check("the TLS listener refuses cleartext", tls_refuses_cleartext)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    failed = sum(1 for _, exc in results if exc is not None)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
