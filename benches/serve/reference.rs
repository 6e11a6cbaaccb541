//! The limit: a static, hand-written tonic server for `proto/users.proto`.
//!
//! Its handlers are what a developer would write by hand against the code build.rs generates,
//! answering exactly what the fixtures answer: the bundled `fixtures/users.yaml` (mirrored here
//! by hand) and the generated stubs (built from the same constructors as their YAML). Replies are
//! built per call, as ordinary handler code does; tonic decodes every request and encodes every
//! reply. Same tonic; the runtime is what `#[tokio::main]` gives a hand-written server
//! (multi-threaded, one worker per allowed CPU: one, under taskset). The fake instead runs
//! tokio's single-threaded scheduler when it has one CPU, which batches replies into fewer
//! writes; [`FLAVOR_ENV`]` = current_thread` runs the reference that way too, to measure how
//! much of a ratio that choice is (docs/performance.md).
//!
//! It is this bench binary, re-executed with [`ENV`] set, so that `cargo bench` builds it with
//! the bench profile (release settings) and nothing else needs building.

use std::{
    collections::HashMap, net::SocketAddr, path::PathBuf, pin::Pin, process::ExitCode, sync::Arc,
};

use prost::Message as _;
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Code, Request, Response, Status, Streaming};

use crate::{
    fixtures,
    userservice::{
        ChatMessage, CreateRequest, CreateSummary, ListRequest, UserRequest, UserResponse,
        user_service_server::{UserService, UserServiceServer},
    },
};

/// Set to `constant` or `default` to run this binary as the reference server.
pub const ENV: &str = "GRPC_DOUBLE_BENCH_REFERENCE";

struct Reference {
    /// GetUser answers the constant reply to every request (the constant row's fixture).
    constant: bool,
    /// The keyed stubs' replies, by `user_id`.
    keyed: HashMap<String, UserResponse>,
    /// The ListUsers page.
    users: Arc<Vec<UserResponse>>,
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl UserService for Reference {
    async fn get_user(
        &self,
        request: Request<UserRequest>,
    ) -> Result<Response<UserResponse>, Status> {
        if self.constant {
            return Ok(Response::new(UserResponse {
                user_id: fixtures::CONSTANT_ID.into(),
                name: "Alice".into(),
                email: "alice@example.com".into(),
                age: 30,
            }));
        }
        let user_id = request.into_inner().user_id;
        match user_id.as_str() {
            // fixtures/users.yaml, priority 10.
            "" => Err(Status::invalid_argument("user_id must be provided")),
            "missing" => Err(Status::not_found("User not found")),
            // kinds.yaml: NOT_FOUND with details, built per call.
            fixtures::GONE_ID => {
                let status = fixtures::gone_status();
                Err(Status::with_details(
                    Code::NotFound,
                    status.message.clone(),
                    status.encode_to_vec().into(),
                ))
            }
            _ => Ok(Response::new(match self.keyed.get(&user_id) {
                // stubs-N.yaml, priority 5.
                Some(reply) => reply.clone(),
                // fixtures/users.yaml's catch-all: user_id from the request.
                None => UserResponse {
                    user_id,
                    name: "Alice".into(),
                    email: "alice@example.com".into(),
                    age: 30,
                },
            })),
        }
    }

    type ListUsersStream = BoxStream<UserResponse>;

    async fn list_users(
        &self,
        _: Request<ListRequest>,
    ) -> Result<Response<Self::ListUsersStream>, Status> {
        let users = self.users.as_ref().clone();
        Ok(Response::new(Box::pin(tokio_stream::iter(
            users.into_iter().map(Ok),
        ))))
    }

    async fn create_users(
        &self,
        request: Request<Streaming<CreateRequest>>,
    ) -> Result<Response<CreateSummary>, Status> {
        let mut stream = request.into_inner();
        let mut summary = CreateSummary::default();
        while let Some(user) = stream.message().await? {
            if user.email.is_empty() {
                summary.failed_ids.push(user.name);
            } else {
                summary.success_count += 1;
            }
        }
        Ok(Response::new(summary))
    }

    type ChatStream = BoxStream<ChatMessage>;

    async fn chat(
        &self,
        request: Request<Streaming<ChatMessage>>,
    ) -> Result<Response<Self::ChatStream>, Status> {
        let replies = request.into_inner().map(|message| {
            message.map(|m| ChatMessage {
                user_id: m.user_id,
                message: format!("Echo: {}", m.message),
                timestamp: 1_234_567_890,
            })
        });
        Ok(Response::new(Box::pin(replies)))
    }
}

/// Set to `current_thread` to run the reference on tokio's single-threaded scheduler.
pub const FLAVOR_ENV: &str = "GRPC_DOUBLE_BENCH_REFERENCE_FLAVOR";

/// Runs the reference server: `--listen ADDR --ready-file PATH` (both optional).
pub fn main(mode: &str) -> ExitCode {
    let mut listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut ready_file: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => match addr.parse() {
                Ok(addr) => listen = addr,
                Err(e) => return fail(&format!("--listen {addr}: {e}")),
            },
            ("--ready-file", Some(path)) => ready_file = Some(path.into()),
            _ => return fail(&format!("unexpected argument `{arg}`")),
        }
    }
    let reference = Reference {
        constant: mode == "constant",
        keyed: (0..fixtures::MANY_STUBS)
            .map(|n| {
                let id = fixtures::keyed_id(n);
                (id.clone(), fixtures::numbered_user(&id, n))
            })
            .collect(),
        users: Arc::new(fixtures::list_reply()),
    };
    let mut builder = match std::env::var(FLAVOR_ENV).as_deref() {
        Ok("current_thread") => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("tokio runtime: {e}")),
    };
    match runtime.block_on(serve(reference, listen, ready_file)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

async fn serve(
    reference: Reference,
    listen: SocketAddr,
    ready_file: Option<PathBuf>,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("bind {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<UserServiceServer<Reference>>().await;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    println!("reference listening on {addr}");
    if let Some(path) = ready_file {
        let text = serde_json::json!({ "grpc": [addr.to_string()], "pid": std::process::id() });
        let partial = path.with_extension("partial");
        std::fs::write(&partial, text.to_string())
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(UserServiceServer::new(reference))
        .serve_with_incoming(incoming)
        .await
        .map_err(|e| e.to_string())
}

fn fail(message: &str) -> ExitCode {
    eprintln!("reference server: {message}");
    ExitCode::FAILURE
}
