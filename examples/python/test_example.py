"""What a test against grpc-double looks like from Python (pytest + grpcio)."""

import grpc
import pytest

GET_USER = "userservice.UserService/GetUser"


@pytest.fixture
def client(fake, users):
    users_pb2, users_pb2_grpc = users
    channel = grpc.insecure_channel(fake.addr)
    yield users_pb2, users_pb2_grpc.UserServiceStub(channel)
    channel.close()


def test_a_stub_added_for_this_test_answers_and_the_call_is_verified(fake, client):
    users_pb2, stub = client
    fake.stub({
        "method": GET_USER,
        "when": {"message": {"user_id": "ada"}},
        "then": {"message": {"user_id": "ada", "name": "Ada Lovelace"}},
    })

    user = stub.GetUser(users_pb2.UserRequest(user_id="ada"), metadata=fake.metadata)

    assert user.name == "Ada Lovelace"
    fake.verify(GET_USER, {"message": {"user_id": "ada"}}, expect=1)
    [call] = fake.calls(GET_USER)
    assert call["requests"] == [{"user_id": "ada"}]
    assert call["status"] == "OK"


def test_an_injected_error_reaches_the_client_and_an_unmet_verify_says_why(fake, client):
    users_pb2, stub = client
    fake.stub({
        "method": GET_USER,
        "then": {"status": {"code": "UNAVAILABLE", "message": "try again"}},
    })

    with pytest.raises(grpc.RpcError) as error:
        stub.GetUser(users_pb2.UserRequest(user_id="bob"), metadata=fake.metadata)

    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    with pytest.raises(AssertionError, match="came close"):
        fake.verify(GET_USER, {"message": {"user_id": "ada"}})


def test_tests_do_not_see_each_others_stubs_or_calls(fake, client):
    users_pb2, stub = client
    # No stub in this session: the server's shared (bundled) stubs answer.
    user = stub.GetUser(users_pb2.UserRequest(user_id="1"), metadata=fake.metadata)
    assert user.name != "Ada Lovelace"
    assert len(fake.calls()) == 1
