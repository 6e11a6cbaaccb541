//! [`FakeServer`]: the server on its own runtime thread, and what a test asks it.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::oneshot;

use super::{
    admin::{self, Admin},
    builder::StubBuilder,
    mount::{self, MountTarget},
    reload::{ReloadStatus, Reloader},
    report::Report,
};
use crate::{
    Schema,
    error::{Error, ErrorKind, Result},
    fake::{
        load::{FixtureSource, verify_request},
        model::{Expect, Fixtures, Health},
        serve::{
            Control, Query, ReceivedCall, ScenarioState, Server, ServerOptions, SessionInfo,
            StopHandle, StubInfo, Verification, replace_file,
        },
    },
    schema::Loader,
};

/// A running fake gRPC server, on its own runtime thread: it keeps serving while the test's
/// runtime is blocked or busy, and works from any runtime (or none).
///
/// Start it with [`FakeServer::builder`] (protos, a descriptor set or a pool; fixture files;
/// options) or [`FakeServer::start`]. When `start` returns, every listener accepts
/// connections. Point a client at [`FakeServer::uri`]; mount stubs with
/// [`Stub::given`](crate::Stub::given); ask what it received with
/// [`FakeServer::received_calls`] and [`FakeServer::verify`].
///
/// Dropping it stops the server and checks the stubs' expectations (`.expect(..)`, `expect:`):
/// when one is not met, the drop panics with a report of what was expected, what came, and the
/// calls no stub answered (never while the thread is already panicking). Turn this off with
/// [`FakeServer::verify_on_drop`].
///
/// # Examples
///
/// ```
/// use grpc_double::{FakeServer, Stub, method, reply};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), grpc_double::Error> {
/// // Arrange: the bundled contract (userservice.UserService), no fixtures.
/// let server = FakeServer::builder().no_fixtures().start().await?;
/// Stub::given(method("userservice.UserService/GetUser"))
///     .respond_with(reply(json!({ "name": "Ada" })))
///     .mount(&server);
/// // Act: point a client at `server.uri()` …
/// // Assert:
/// assert!(server.received_calls().is_empty());
/// server.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FakeServer {
    addrs: Vec<SocketAddr>,
    tls_addrs: Vec<SocketAddr>,
    admin: Option<SocketAddr>,
    schema: Schema,
    control: Arc<Control>,
    reloader: Option<Arc<Reloader>>,
    stop: StopHandle,
    done: Mutex<Option<oneshot::Receiver<Result<()>>>>,
    verify_on_drop: AtomicBool,
}

/// Configures and starts a [`FakeServer`].
#[derive(Debug, Default)]
#[must_use = "call .start() to start the server"]
pub struct FakeServerBuilder {
    schema: Option<Schema>,
    loader: Option<Loader>,
    fixtures: Option<Fixtures>,
    sources: Vec<FixtureSource>,
    paths: Vec<PathBuf>,
    reload_paths: Vec<PathBuf>,
    no_fixtures: bool,
    watch: bool,
    watch_interval: Option<Duration>,
    options: Option<ServerOptions>,
}

impl FakeServerBuilder {
    /// Serves this schema (default: the bundled `proto/users.proto`).
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Compiles this `.proto` file (or every one under a directory); repeatable.
    pub fn proto(mut self, path: impl Into<PathBuf>) -> Self {
        self.loader.get_or_insert_with(Loader::new).proto(path);
        self
    }

    /// An include path for the protos' imports; repeatable.
    pub fn include(mut self, dir: impl Into<PathBuf>) -> Self {
        self.loader.get_or_insert_with(Loader::new).include(dir);
        self
    }

    /// Serves the types of a binary `FileDescriptorSet`; repeatable.
    pub fn descriptor_set(mut self, path: impl Into<PathBuf>) -> Self {
        self.loader
            .get_or_insert_with(Loader::new)
            .descriptor_set(path);
        self
    }

    /// Serves the types of a descriptor pool.
    pub fn pool(self, pool: prost_reflect::DescriptorPool) -> Self {
        self.schema(Schema::from_pool(pool))
    }

    /// Loads a fixture file, or every one under a directory; repeatable. With
    /// [`FakeServerBuilder::watch`], they are reloaded when they change.
    pub fn fixtures(mut self, path: impl Into<PathBuf>) -> Self {
        self.paths.push(path.into());
        self
    }

    /// Loads fixtures from text, reported under `name`.
    pub fn fixture_text(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.sources
            .push(FixtureSource::new(name.into(), text.into()));
        self
    }

    /// Serves fixtures already loaded (besides any files).
    pub fn loaded(mut self, fixtures: Fixtures) -> Self {
        self.fixtures = Some(fixtures);
        self
    }

    /// Starts without the bundled fixtures (when no fixtures are given, the bundled contract
    /// gets its bundled fixtures).
    pub fn no_fixtures(mut self) -> Self {
        self.no_fixtures = true;
        self
    }

    /// Watches the fixture files and reloads them when they change (checked every
    /// `interval`; default 500ms): a change is validated first, then swapped in at once; an
    /// invalid change keeps the previous stubs serving.
    pub fn watch(mut self, interval: Option<Duration>) -> Self {
        self.watch = true;
        self.watch_interval = interval;
        self
    }

    /// Reloads from these fixture paths (on a change when watched, on
    /// [`FakeServer::reload`]), for fixtures given already loaded with
    /// [`FakeServerBuilder::loaded`].
    pub fn reload_from(mut self, paths: Vec<PathBuf>) -> Self {
        self.reload_paths = paths;
        self
    }

    /// Sets the server options (listeners, limits, journal size, admin API …).
    pub fn options(mut self, options: ServerOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// Starts the server on its own thread; returns once every listener accepts connections.
    ///
    /// # Errors
    ///
    /// The protos or fixtures do not load, or a listener cannot be bound.
    pub async fn start(self) -> Result<FakeServer> {
        let ready = self.launch()?;
        ready.await.unwrap_or_else(|_| Err(thread_gone()))
    }

    /// Starts the server on its own thread, from code that is not async.
    ///
    /// # Errors
    ///
    /// As [`FakeServerBuilder::start`].
    ///
    /// # Panics
    ///
    /// Called from inside an async context (use `start().await` there).
    pub fn start_blocking(self) -> Result<FakeServer> {
        let ready = self.launch()?;
        ready.blocking_recv().unwrap_or_else(|_| Err(thread_gone()))
    }

    fn launch(self) -> Result<oneshot::Receiver<Result<FakeServer>>> {
        let schema = match (self.schema, self.loader) {
            (Some(schema), _) => schema,
            (None, Some(loader)) => loader.load()?,
            (None, None) => Schema::bundled(),
        };
        let mut sources = self.sources;
        for path in &self.paths {
            sources.extend(FixtureSource::read_all(path)?);
        }
        let bundled = self.fixtures.is_none()
            && sources.is_empty()
            && self.paths.is_empty()
            && !self.no_fixtures
            && schema.root_files() == Schema::bundled().root_files();
        let mut fixtures = if bundled {
            Fixtures::bundled(&schema)?
        } else {
            Fixtures::load(&schema, &sources)?
        };
        if let Some(loaded) = self.fixtures {
            fixtures.extend(loaded);
        }
        let options = self.options.unwrap_or_default();
        let mut paths = self.paths;
        paths.extend(self.reload_paths);
        let watch = (self.watch && !paths.is_empty())
            .then(|| self.watch_interval.unwrap_or(Duration::from_millis(500)));
        let reloadable = (!paths.is_empty()).then_some(paths);
        let (tx, rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("grpc-double".into())
            .spawn(move || run(schema, fixtures, options, reloadable, watch, tx))
            .map_err(|err| Error::from(ErrorKind::Runtime(err)))?;
        drop(thread);
        Ok(rx)
    }
}

fn thread_gone() -> Error {
    ErrorKind::Harness {
        message: "the server thread stopped before it was ready".into(),
        help: Some("this is a bug in grpc-double; please report it".into()),
    }
    .into()
}

/// The server thread: a runtime, the server, the admin API and the watcher, until stopped.
fn run(
    schema: Schema,
    fixtures: Fixtures,
    options: ServerOptions,
    reloadable: Option<Vec<PathBuf>>,
    watch: Option<Duration>,
    ready: oneshot::Sender<Result<FakeServer>>,
) {
    let threads = options
        .worker_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let mut runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut runtime = tokio::runtime::Builder::new_multi_thread();
        runtime.worker_threads(threads);
        runtime
    };
    runtime.enable_all().thread_name("grpc-double-worker");
    let runtime = match runtime.build() {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = ready.send(Err(ErrorKind::Runtime(err).into()));
            return;
        }
    };
    runtime.block_on(async move {
        let server = match Server::start(&schema, fixtures, &options).await {
            Ok(server) => server,
            Err(err) => {
                let _ = ready.send(Err(err));
                return;
            }
        };
        let control = server.control().clone();
        let stop = server.stop_handle();
        let reloader =
            reloadable.map(|paths| Arc::new(Reloader::new(schema.clone(), paths, control.clone())));
        if let (Some(reloader), Some(every)) = (&reloader, watch) {
            tokio::spawn(reloader.clone().watch(every, stop.subscribe()));
        }
        let admin = match &options.admin {
            Some(addr) => {
                let admin = Admin {
                    control: control.clone(),
                    schema: schema.clone(),
                    reloader: reloader.clone(),
                    token: options.admin_token.clone(),
                    grpc: server.addrs().to_vec(),
                    body_limit: admin::BODY_LIMIT,
                };
                match admin::start(addr, admin, stop.subscribe()).await {
                    Ok(addr) => Some(addr),
                    Err(err) => {
                        let _ = ready.send(Err(err));
                        return;
                    }
                }
            }
            None => None,
        };
        let (done_tx, done_rx) = oneshot::channel();
        let fake = FakeServer {
            addrs: server.addrs().to_vec(),
            tls_addrs: server.tls_addrs().to_vec(),
            admin,
            schema,
            control,
            reloader,
            stop,
            done: Mutex::new(Some(done_rx)),
            verify_on_drop: AtomicBool::new(true),
        };
        if ready.send(Ok(fake)).is_err() {
            return;
        }
        let result = server.wait().await;
        let _ = done_tx.send(result);
    });
}

impl MountTarget for FakeServer {}
impl MountTarget for Session<'_> {}

#[allow(private_interfaces)] // sealed: see mount.rs
impl mount::sealed::Sealed for FakeServer {
    fn mount_point(&self) -> (&Schema, &Arc<Control>, Option<&str>) {
        (&self.schema, &self.control, None)
    }
}

#[allow(private_interfaces)] // sealed: see mount.rs
impl mount::sealed::Sealed for Session<'_> {
    fn mount_point(&self) -> (&Schema, &Arc<Control>, Option<&str>) {
        (&self.server.schema, &self.server.control, Some(&self.name))
    }
}

/// One test's view of a shared server: the stubs it mounts, the calls it sent (with the
/// `x-grpc-double-session` header) and its scenario states are its own.
///
/// # Examples
///
/// ```
/// use grpc_double::{FakeServer, SESSION_HEADER, Stub, method, status};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), grpc_double::Error> {
/// let server = FakeServer::builder().no_fixtures().start().await?;
/// let session = server.session("test-42");
/// Stub::given(method("userservice.UserService/GetUser"))
///     .respond_with(status(tonic::Code::NotFound, "only in test-42"))
///     .mount(&session);
/// // Calls that send `x-grpc-double-session: test-42` see the stub; others do not.
/// assert_eq!(session.header(), (SESSION_HEADER, "test-42"));
/// assert!(session.received_calls().is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Session<'a> {
    server: &'a FakeServer,
    name: String,
}

impl Session<'_> {
    /// Gets the session's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Gets the header a client sends to call in this session.
    pub fn header(&self) -> (&'static str, &str) {
        (crate::fake::serve::SESSION_HEADER, &self.name)
    }

    /// Gets the calls made in this session, oldest first.
    pub fn received_calls(&self) -> Vec<ReceivedCall> {
        self.server.calls_in(Some(&self.name))
    }

    /// Counts the session's calls that match `calls` (its method and conditions).
    pub fn verify(&self, calls: &StubBuilder, expect: impl Into<Expect>) -> Verification {
        self.server
            .verify_in(calls, expect.into(), Some(&self.name))
    }

    /// Removes the session's stubs, counters, states and calls.
    pub fn reset(&self) {
        self.server.control.reset(Some(&self.name));
    }
}

impl FakeServer {
    /// Configures a server: protos, fixtures, options.
    pub fn builder() -> FakeServerBuilder {
        FakeServerBuilder::default()
    }

    /// Starts a server for `schema` with `fixtures`, on its own thread.
    ///
    /// # Errors
    ///
    /// A listen address is invalid or cannot be bound.
    pub async fn start(
        schema: &Schema,
        fixtures: Fixtures,
        options: ServerOptions,
    ) -> Result<Self> {
        Self::builder()
            .schema(schema.clone())
            .no_fixtures()
            .loaded(fixtures)
            .options(options)
            .start()
            .await
    }

    /// Gets the bound gRPC addresses, in `listen` order.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Gets the addresses of the TLS listeners (a subset of [`FakeServer::addrs`]).
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }

    /// Gets the URI of the first listener, e.g. `http://127.0.0.1:50051` (`https://…` when it
    /// is a TLS listener).
    pub fn uri(&self) -> String {
        self.addrs.first().map_or_else(String::new, |addr| {
            let scheme = if self.tls_addrs.contains(addr) {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{addr}")
        })
    }

    /// Gets the admin API's address, when it was asked for.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// Gets the full names of the served services, e.g. `userservice.UserService`.
    pub fn services(&self) -> &[String] {
        self.control.services()
    }

    /// Gets the schema it serves.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Gets a view of the server for one test: see [`Session`].
    pub fn session(&self, name: impl Into<String>) -> Session<'_> {
        Session {
            server: self,
            name: name.into(),
        }
    }

    /// Whether dropping the server checks the stubs' expectations (default: yes).
    pub fn verify_on_drop(&self, on: bool) {
        self.verify_on_drop.store(on, Ordering::Relaxed);
    }

    /// Loads fixtures (a file, or every one under a directory) and adds their stubs, as if
    /// mounted one by one.
    ///
    /// # Errors
    ///
    /// The files cannot be read or do not load.
    pub fn mount_fixtures(&self, path: impl AsRef<Path>) -> Result<Vec<StubInfo>> {
        let sources = FixtureSource::read_all(path.as_ref())?;
        let fixtures = Fixtures::load(&self.schema, &sources)?;
        let stubs = fixtures.stubs().iter().map(|s| (s.clone(), None)).collect();
        Ok(self
            .control
            .add(stubs, None)
            .map_err(|message| ErrorKind::Harness {
                message,
                help: None,
            })?)
    }

    /// Gets every stub, in the order calls try them, with how many calls each answered.
    pub fn stubs(&self) -> Vec<StubInfo> {
        self.control.stubs(None)
    }

    /// Gets every call the journal holds, oldest first (all sessions).
    pub fn received_calls(&self) -> Vec<ReceivedCall> {
        self.control.calls(&Query::default())
    }

    fn calls_in(&self, session: Option<&str>) -> Vec<ReceivedCall> {
        self.control.calls(&Query {
            session: Some(session.map(str::to_owned)),
            ..Query::default()
        })
    }

    /// Gets the calls no stub answered, each with the closest stub and why it did not match.
    pub fn unmatched_calls(&self) -> Vec<ReceivedCall> {
        self.control.calls(&Query {
            unmatched: true,
            ..Query::default()
        })
    }

    /// Counts the calls that match `calls` — a builder's method and conditions, as for a stub
    /// — against `expect`; the answer lists them, and the closest misses when the count is
    /// off. [`Verification::assert`] panics with that explanation.
    ///
    /// # Examples
    ///
    /// ```
    /// use grpc_double::{FakeServer, Stub, message, method};
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), grpc_double::Error> {
    /// let server = FakeServer::builder().start().await?;
    /// // … the code under test calls the server …
    /// let check = server.verify(
    ///     &Stub::given(method("userservice.UserService/GetUser"))
    ///         .and(message(json!({ "user_id": "ada" }))),
    ///     0,
    /// );
    /// check.assert();
    /// assert_eq!(check.matched, 0);
    /// # Ok(()) }
    /// ```
    pub fn verify(&self, calls: &StubBuilder, expect: impl Into<Expect>) -> Verification {
        self.verify_in(calls, expect.into(), None)
    }

    fn verify_in(
        &self,
        calls: &StubBuilder,
        expect: Expect,
        session: Option<&str>,
    ) -> Verification {
        let doc = calls.verification(expect);
        let source = calls.source(&doc);
        match verify_request(&self.schema, &source) {
            Ok(request) => self.control.verify(
                &request.method,
                &request.when,
                request.expect,
                session.or(request.session.as_deref()),
            ),
            Err(errors) => Verification::invalid(
                doc["method"].as_str().unwrap_or_default(),
                &calls.problems(&errors),
            ),
        }
    }

    /// Back to the files: added stubs removed, counters, scenario states and the journal
    /// cleared (every session's too).
    pub fn reset(&self) {
        self.control.reset(None);
    }

    /// Gets every scenario's states.
    pub fn scenarios(&self) -> Vec<ScenarioState> {
        self.control.scenarios()
    }

    /// Sets a scenario's state; `false` when no stub names that scenario.
    pub fn set_scenario(&self, scenario: &str, state: &str) -> bool {
        self.control.set_scenario(scenario, None, None, state)
    }

    /// Sets a service's health, as the health service reports it (`""`: the whole server).
    pub async fn set_health(&self, service: &str, health: Health) {
        self.control.set_health(service, health).await;
    }

    /// Gets the sessions seen.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.control.sessions()
    }

    /// Reloads the fixture files now (as SIGHUP does): validated first, swapped in at once;
    /// on an error the previous stubs keep serving. `None` when the server has no files.
    pub fn reload(&self) -> Option<ReloadStatus> {
        self.reloader.as_ref().map(|r| r.reload("requested"))
    }

    /// Gets the outcome of the last reload (`None` when the server has no files).
    pub fn reload_status(&self) -> Option<ReloadStatus> {
        self.reloader.as_ref().map(|r| r.status())
    }

    /// Gets what a CI report says: the calls, the unmatched ones, unused stubs and unmet
    /// expectations.
    pub fn report(&self) -> Report {
        Report::new(&self.control)
    }

    /// Gets a handle that starts a graceful shutdown from elsewhere (a signal handler).
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Stops accepting connections, lets in-flight calls finish (bounded by the grace period),
    /// and waits.
    ///
    /// # Errors
    ///
    /// The server failed while running.
    pub async fn shutdown(&self) -> Result<()> {
        self.stop.stop();
        self.wait().await
    }

    /// Waits until the server stops (after [`FakeServer::stop_handle`] fires).
    ///
    /// # Errors
    ///
    /// The server failed while running.
    pub async fn wait(&self) -> Result<()> {
        let done = self.done.lock().unwrap_or_else(|e| e.into_inner()).take();
        match done {
            Some(done) => done.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }

    /// Writes `{"grpc": ["127.0.0.1:PORT", …], "admin": "127.0.0.1:PORT", "pid": N}` to `path`
    /// atomically (a temporary file renamed into place), so that harnesses polling for the
    /// file never read half of it. `admin` is there when the admin API is; `tls` lists the
    /// listeners of `grpc` that speak TLS, when any does.
    ///
    /// The temporary file has an unpredictable name in the same directory and is created
    /// exclusively (`O_CREAT | O_EXCL`): a file or symbolic link planted under that name is
    /// never written through, and the rename replaces a link at `path` itself, not its target.
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn write_ready_file(&self, path: &Path) -> Result<()> {
        let mut body = serde_json::json!({
            "grpc": self.addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "pid": std::process::id(),
        });
        if let Some(admin) = self.admin {
            body["admin"] = serde_json::Value::String(admin.to_string());
        }
        if !self.tls_addrs.is_empty() {
            body["tls"] = self.tls_addrs.iter().map(ToString::to_string).collect();
        }
        replace_file(path, format!("{body}\n").as_bytes())
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.stop();
        if !self.verify_on_drop.load(Ordering::Relaxed) || std::thread::panicking() {
            return;
        }
        let report = self.report();
        if !report.unmet.is_empty() {
            panic!("{}", report.drop_message());
        }
    }
}
