//! The fixture files the fake serves, and the replies they promise.
//!
//! One set of constructors feeds three readers: the YAML written for the fake, the hand-written
//! reference server, and the checks that run before any figure is taken. So the two servers
//! answer the same bytes by construction for the generated stubs; for the bundled
//! `fixtures/users.yaml` the reference mirrors that file by hand, and the checks catch any drift.

use std::{collections::HashMap, fmt::Write as _, fs, io, path::Path};

use crate::userservice::{
    ChatMessage, CreateRequest, CreateSummary, ListRequest, UserRequest, UserResponse,
};

/// The request id that reaches the bundled templated stub (and no keyed stub).
pub const TEMPLATED_ID: &str = "bench-user";
/// The request id of the constant row; the constant reply carries the same id.
pub const CONSTANT_ID: &str = "42";
/// The request id the error stub (`kinds.yaml`) answers with NOT_FOUND and details.
pub const GONE_ID: &str = "gone";
/// Messages in the ListUsers reply, frames in the CreateUsers request, messages in a Chat.
pub const LIST_MESSAGES: usize = 100;
pub const CREATE_FRAMES: usize = 100;
pub const CHAT_MESSAGES: usize = 10;
/// The keyed stubs of the "many stubs" rows.
pub const MANY_STUBS: usize = 1000;

/// The constant reply (no `when`, no template: the fake encodes it once at load).
pub fn constant_reply() -> UserResponse {
    UserResponse {
        user_id: CONSTANT_ID.into(),
        name: "Alice".into(),
        email: "alice@example.com".into(),
        age: 30,
    }
}

/// What the bundled `get-user` stub answers: `user_id` from the request, the rest fixed.
pub fn templated_reply(user_id: &str) -> UserResponse {
    UserResponse {
        user_id: user_id.into(),
        name: "Alice".into(),
        email: "alice@example.com".into(),
        age: 30,
    }
}

/// The reply of keyed stub `n` (`user_id: "u-<n>"`), also the n-th message of ListUsers.
pub fn numbered_user(id: &str, n: usize) -> UserResponse {
    UserResponse {
        user_id: id.into(),
        name: format!("User {n}"),
        email: format!("user-{n}@example.com"),
        age: 20 + (n % 50) as i32,
    }
}

pub fn keyed_id(n: usize) -> String {
    format!("u-{n}")
}

pub fn list_request() -> ListRequest {
    ListRequest {
        page_size: LIST_MESSAGES as i32,
        page_token: String::new(),
    }
}

pub fn list_reply() -> Vec<UserResponse> {
    (0..LIST_MESSAGES)
        .map(|n| numbered_user(&n.to_string(), n))
        .collect()
}

/// A hundred users to create; every tenth has no email, so the bundled stub reports it failed.
pub fn create_requests() -> Vec<CreateRequest> {
    (0..CREATE_FRAMES)
        .map(|n| CreateRequest {
            name: format!("new-user-{n}"),
            email: if n % 10 == 0 {
                String::new()
            } else {
                format!("new-user-{n}@example.com")
            },
            age: 20 + (n % 50) as i32,
        })
        .collect()
}

/// What the bundled `create-users` stub answers for [`create_requests`].
pub fn create_summary(requests: &[CreateRequest]) -> CreateSummary {
    CreateSummary {
        success_count: requests.iter().filter(|r| !r.email.is_empty()).count() as i32,
        failed_ids: requests
            .iter()
            .filter(|r| r.email.is_empty())
            .map(|r| r.name.clone())
            .collect(),
    }
}

pub fn chat_requests() -> Vec<ChatMessage> {
    (0..CHAT_MESSAGES)
        .map(|n| ChatMessage {
            user_id: "u-chat".into(),
            message: format!("ping {n}"),
            timestamp: n as i64,
        })
        .collect()
}

/// What the bundled `chat-echo` stub answers to one message.
pub fn chat_reply(request: &ChatMessage) -> ChatMessage {
    ChatMessage {
        user_id: request.user_id.clone(),
        message: format!("Echo: {}", request.message),
        timestamp: 1_234_567_890,
    }
}

pub fn user_request(id: &str) -> UserRequest {
    UserRequest { user_id: id.into() }
}

/// `google.rpc.Status`, as carried in `grpc-status-details-bin`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<prost_types::Any>,
}

/// `google.rpc.ErrorInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ErrorInfo {
    #[prost(string, tag = "1")]
    pub reason: String,
    #[prost(string, tag = "2")]
    pub domain: String,
    #[prost(map = "string, string", tag = "3")]
    pub metadata: HashMap<String, String>,
}

/// `google.rpc.ResourceInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceInfo {
    #[prost(string, tag = "1")]
    pub resource_type: String,
    #[prost(string, tag = "2")]
    pub resource_name: String,
    #[prost(string, tag = "3")]
    pub owner: String,
    #[prost(string, tag = "4")]
    pub description: String,
}

pub const GONE_CODE: i32 = 5; // NOT_FOUND
pub const GONE_MESSAGE: &str = "User not found";

/// The `google.rpc.Status` of the error row, as a hand-written server would build it per call.
pub fn gone_status() -> RpcStatus {
    use prost::Message as _;
    let info = ErrorInfo {
        reason: "USER_DELETED".into(),
        domain: "users.example.com".into(),
        metadata: HashMap::from([("user_id".to_owned(), GONE_ID.to_owned())]),
    };
    let resource = ResourceInfo {
        resource_type: "user".into(),
        resource_name: format!("users/{GONE_ID}"),
        owner: String::new(),
        description: "deleted on request".into(),
    };
    RpcStatus {
        code: GONE_CODE,
        message: GONE_MESSAGE.into(),
        details: vec![
            prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                value: info.encode_to_vec(),
            },
            prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.ResourceInfo".into(),
                value: resource.encode_to_vec(),
            },
        ],
    }
}

/// Paths of the generated fixture files.
#[derive(Debug)]
pub struct Files {
    pub constant: std::path::PathBuf,
    pub kinds: std::path::PathBuf,
    pub one_stub: std::path::PathBuf,
    pub many_stubs: std::path::PathBuf,
}

/// Writes the generated fixture files into `dir`.
pub fn write(dir: &Path) -> io::Result<Files> {
    let files = Files {
        constant: dir.join("constant.yaml"),
        kinds: dir.join("kinds.yaml"),
        one_stub: dir.join("stubs-1.yaml"),
        many_stubs: dir.join(format!("stubs-{MANY_STUBS}.yaml")),
    };
    fs::write(&files.constant, constant_yaml())?;
    fs::write(&files.kinds, kinds_yaml())?;
    fs::write(&files.one_stub, keyed_yaml(1))?;
    fs::write(&files.many_stubs, keyed_yaml(MANY_STUBS))?;
    Ok(files)
}

fn constant_yaml() -> String {
    format!(
        "# The constant row: no `when`, no template (encoded once at load).\n\
         - id: get-user-constant\n  method: userservice.UserService/GetUser\n  then:\n    message: {}\n",
        user_yaml(&constant_reply())
    )
}

/// The error row's stub and the 100-message ListUsers stub.
fn kinds_yaml() -> String {
    let status = gone_status();
    let mut s = String::from("# The error row and the ListUsers row.\n");
    let _ = write!(
        s,
        "- id: get-user-gone\n  method: userservice.UserService/GetUser\n  when:\n    message: {{ user_id: {gone} }}\n  then:\n    status:\n      code: NOT_FOUND\n      message: {message}\n      details:\n",
        gone = quoted(GONE_ID),
        message = quoted(&status.message),
    );
    let _ = writeln!(
        s,
        "        - {{ \"@type\": google.rpc.ErrorInfo, reason: USER_DELETED, domain: users.example.com, metadata: {{ user_id: {} }} }}",
        quoted(GONE_ID)
    );
    let _ = writeln!(
        s,
        "        - {{ \"@type\": google.rpc.ResourceInfo, resource_type: user, resource_name: {}, description: deleted on request }}",
        quoted(&format!("users/{GONE_ID}"))
    );
    let _ = writeln!(
        s,
        "- id: list-users-{LIST_MESSAGES}\n  method: userservice.UserService/ListUsers\n  then:\n    stream:"
    );
    for user in list_reply() {
        let _ = writeln!(s, "      - message: {}", user_yaml(&user));
    }
    s
}

/// `stubs` GetUser stubs keyed by `user_id: "u-<n>"`, tried before the bundled catch-all.
fn keyed_yaml(stubs: usize) -> String {
    let mut s = format!(
        "# {stubs} keyed GetUser stubs, loaded after fixtures/users.yaml: priority 5 puts them\n\
         # after its two priority-10 stubs and before its catch-all.\n"
    );
    for n in 0..stubs {
        let id = keyed_id(n);
        let _ = writeln!(
            s,
            "- id: keyed-{id}\n  method: userservice.UserService/GetUser\n  priority: 5\n  when: {{ message: {{ user_id: {} }} }}\n  then: {{ message: {} }}",
            quoted(&id),
            user_yaml(&numbered_user(&id, n))
        );
    }
    s
}

fn user_yaml(user: &UserResponse) -> String {
    format!(
        "{{ user_id: {}, name: {}, email: {}, age: {} }}",
        quoted(&user.user_id),
        quoted(&user.name),
        quoted(&user.email),
        user.age
    )
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}
