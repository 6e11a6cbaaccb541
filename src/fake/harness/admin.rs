//! The admin HTTP API (`--admin ADDR`): JSON in and out, on its own listener.
//!
//! Stubs sent here are YAML or JSON documents in the fixture language, loaded exactly as
//! fixture files are (errors come back located in the request body). Requests name a session
//! with the `x-grpc-double-session` header or `?session=`. Without `--admin-token` the API
//! listens on loopback only; with one, every request needs `Authorization: Bearer <token>`
//! (compared in constant time). Bodies are limited in size, and slow clients time out.
//!
//! docs/admin-api.md describes every endpoint; `GET /openapi.json` serves the same description
//! as OpenAPI 3.

// A handler's `Err` is the HTTP answer itself (a 4xx response, built once per failed request
// off the gRPC path): boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use std::{collections::HashMap, convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::watch};

use super::reload::Reloader;
use crate::{
    Schema,
    error::{ErrorKind, Result},
    fake::{
        load::{FixtureErrors, FixtureSource, verify_request},
        model::{Fixtures, Health, parse_code},
        serve::{Control, Query, SESSION_HEADER},
        template::parse_rfc3339,
    },
};

/// The largest request body accepted (8 MiB).
pub(crate) const BODY_LIMIT: usize = 8 << 20;

/// The OpenAPI description of this API.
const OPENAPI: &str = include_str!("openapi.json");

/// What the admin API serves from.
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    pub(crate) control: Arc<Control>,
    pub(crate) schema: Schema,
    pub(crate) reloader: Option<Arc<Reloader>>,
    pub(crate) token: Option<String>,
    pub(crate) grpc: Vec<SocketAddr>,
    pub(crate) body_limit: usize,
}

/// Binds the admin listener and serves it until the server stops.
pub(crate) async fn start(
    addr: &str,
    admin: Admin,
    mut stopped: watch::Receiver<bool>,
) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ErrorKind::Bind {
            addr: addr.to_owned(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ErrorKind::Bind {
        addr: addr.to_owned(),
        source,
    })?;
    if !local.ip().is_loopback() && admin.token.is_none() {
        return Err(ErrorKind::AdminOpen {
            addr: local.to_string(),
        }
        .into());
    }
    let admin = Arc::new(admin);
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        tracing::warn!(%err, "admin API: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = stopping(&mut stopped) => return,
            };
            let admin = admin.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let admin = admin.clone();
                    async move { Ok::<_, Infallible>(handle(&admin, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = conn => {}
                    () = stopping(&mut stopped) => {}
                }
            });
        }
    });
    Ok(local)
}

/// Completes when the server starts stopping.
async fn stopping(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: &Value) -> Reply {
    let mut text = serde_json::to_vec_pretty(body).unwrap_or_default();
    text.push(b'\n');
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(text)))
        .unwrap_or_default()
}

fn ok(body: &Value) -> Reply {
    reply(StatusCode::OK, body)
}

fn error(status: StatusCode, message: impl Into<String>, hint: Option<&str>) -> Reply {
    let mut body = json!({ "error": message.into() });
    if let Some(hint) = hint {
        body["hint"] = Value::String(hint.to_owned());
    }
    reply(status, &body)
}

/// Located problems in a request body.
fn problems(message: &str, errors: &FixtureErrors) -> Reply {
    let list: Vec<Value> = errors
        .errors()
        .iter()
        .map(|e| {
            json!({
                "code": e.code(),
                "message": e.message(),
                "line": e.location().line,
                "column": e.location().col,
                "hint": e.hint(),
                "text": e.to_string(),
            })
        })
        .collect();
    reply(
        StatusCode::BAD_REQUEST,
        &json!({ "error": message, "problems": list }),
    )
}

/// Compares in time that depends only on the length, never on where the bytes differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

fn authorized(admin: &Admin, req: &Request<hyper::body::Incoming>) -> bool {
    let Some(token) = &admin.token else {
        return true;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .unwrap_or_default();
    same(given, token.as_bytes())
}

/// `?a=1&b=two` → a map (percent- and `+`-decoded).
fn query(uri: &http::Uri) -> HashMap<String, String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// One request, parsed: what the handlers read.
struct Call<'a> {
    method: Method,
    path: Vec<String>,
    query: HashMap<String, String>,
    session: Option<String>,
    body: Bytes,
    admin: &'a Admin,
}

impl Call<'_> {
    fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    fn text(&self) -> std::result::Result<&str, Reply> {
        std::str::from_utf8(&self.body).map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                format!("the request body is not UTF-8 (byte {})", e.valid_up_to()),
                Some("send YAML or JSON text"),
            )
        })
    }

    fn source(&self) -> std::result::Result<FixtureSource, Reply> {
        let name = format!("{} /{}", self.method, self.path.join("/"));
        Ok(FixtureSource::new(name, self.text()?.to_owned()))
    }

    /// A small JSON (or YAML) body as a value.
    fn value(&self) -> std::result::Result<Value, Reply> {
        let text = self.text()?;
        if text.trim().is_empty() {
            return Ok(Value::Object(serde_json::Map::new()));
        }
        serde_saphyr::from_str::<Value>(text).map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                format!("the request body is not JSON or YAML: {e}"),
                None,
            )
        })
    }
}

async fn handle(admin: &Admin, req: Request<hyper::body::Incoming>) -> Reply {
    if !authorized(admin, &req) {
        let mut reply = error(
            StatusCode::UNAUTHORIZED,
            "this admin API needs its token",
            Some(
                "send `Authorization: Bearer <token>` (the --admin-token the server was started with)",
            ),
        );
        reply.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        return reply;
    }
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, admin.body_limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is over {} bytes", admin.body_limit),
                Some("send fewer stubs per request"),
            );
        }
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {err}"),
                None,
            );
        }
    };
    let query = query(&parts.uri);
    let session = parts
        .headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query.get("session").cloned())
        .filter(|s| !s.is_empty());
    let call = Call {
        method: parts.method,
        path: parts
            .uri
            .path()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect(),
        query,
        session,
        body,
        admin,
    };
    route(&call).await.unwrap_or_else(|reply| reply)
}

type Handled = std::result::Result<Reply, Reply>;

/// The routes: (path pattern, methods). `{}` is one segment.
const ROUTES: &[(&str, &[&str])] = &[
    ("", &["GET"]),
    ("openapi.json", &["GET"]),
    ("api/status", &["GET"]),
    ("api/stubs", &["GET", "POST", "DELETE"]),
    ("api/stubs/used", &["GET"]),
    ("api/stubs/unused", &["GET"]),
    ("api/stubs/{}", &["GET", "PUT", "DELETE"]),
    ("api/reset", &["POST"]),
    ("api/journal", &["GET", "DELETE"]),
    ("api/unmatched", &["GET"]),
    ("api/verify", &["POST"]),
    ("api/scenarios", &["GET"]),
    ("api/scenarios/{}", &["PUT"]),
    ("api/health", &["GET", "PUT"]),
    ("api/health/{}", &["PUT"]),
    ("api/reload", &["GET", "POST"]),
    ("api/sessions", &["GET"]),
    ("api/sessions/{}", &["DELETE"]),
];

fn pattern_matches(pattern: &str, path: &[String]) -> bool {
    let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    parts.len() == path.len() && parts.iter().zip(path).all(|(p, s)| *p == "{}" || p == s)
}

async fn route(call: &Call<'_>) -> Handled {
    let path: Vec<&str> = call.path.iter().map(String::as_str).collect();
    let method = call.method.as_str();
    let admin = call.admin;
    let control = &admin.control;
    let session = call.session();
    match (method, path.as_slice()) {
        ("GET", []) => Ok(ok(&json!({
            "service": "grpc-double admin API",
            "openapi": "/openapi.json",
            "endpoints": ROUTES.iter().map(|(p, m)| format!("{} /{p}", m.join("|"))).collect::<Vec<_>>(),
        }))),
        ("GET", ["openapi.json"]) => Ok(Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(OPENAPI.as_bytes())))
            .unwrap_or_default()),
        ("GET", ["api", "status"]) => Ok(ok(&json!({
            "version": env!("CARGO_PKG_VERSION"),
            "grpc": admin.grpc.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "services": control.services(),
            "stubs": control.stubs(None).len(),
            "journal": {
                "calls": control.calls(&Query::default()).len(),
                "dropped": control.journal.dropped(),
                "on": control.journal.is_on(),
            },
            "reload": admin.reloader.as_ref().map(|r| r.status()),
        }))),
        ("GET", ["api", "stubs"]) => Ok(ok(&json!({ "stubs": control.stubs(session) }))),
        ("POST", ["api", "stubs"]) => add_stubs(call),
        ("DELETE", ["api", "stubs"]) => {
            Ok(ok(&json!({ "removed": control.remove_added(session) })))
        }
        ("GET", ["api", "stubs", "used"]) => Ok(ok(&json!({
            "stubs": control.stubs(session).into_iter().filter(|s| s.calls > 0).collect::<Vec<_>>()
        }))),
        ("GET", ["api", "stubs", "unused"]) => Ok(ok(&json!({
            "stubs": control.stubs(session).into_iter().filter(|s| s.calls == 0).collect::<Vec<_>>()
        }))),
        ("GET", ["api", "stubs", reference]) => match control.find(reference, session) {
            Some((info, _)) => Ok(ok(&json!({ "stub": info }))),
            None => Err(no_stub(reference)),
        },
        ("PUT", ["api", "stubs", reference]) => replace_stub(call, reference),
        ("DELETE", ["api", "stubs", reference]) => match control.remove(reference, session) {
            Ok(Some(info)) => Ok(ok(&json!({ "removed": info }))),
            Ok(None) => Err(no_stub(reference)),
            Err(message) => Err(error(StatusCode::CONFLICT, message, None)),
        },
        ("POST", ["api", "reset"]) => {
            control.reset(session);
            Ok(ok(&json!({ "reset": true, "session": session })))
        }
        ("GET", ["api", "journal"]) => {
            let query = journal_query(call)?;
            Ok(ok(&json!({
                "calls": control.calls(&query),
                "dropped": control.journal.dropped(),
            })))
        }
        ("DELETE", ["api", "journal"]) => {
            control.journal.clear(session);
            Ok(ok(&json!({ "cleared": true, "session": session })))
        }
        ("GET", ["api", "unmatched"]) => {
            let mut query = journal_query(call)?;
            query.unmatched = true;
            Ok(ok(&json!({
                "calls": control.calls(&query),
                "dropped": control.journal.dropped(),
            })))
        }
        ("POST", ["api", "verify"]) => verify(call),
        ("GET", ["api", "scenarios"]) => {
            let mut states = control.scenarios();
            if let Some(session) = session {
                states.retain(|s| s.session.is_none() || s.session.as_deref() == Some(session));
            }
            Ok(ok(&json!({ "scenarios": states })))
        }
        ("PUT", ["api", "scenarios", name]) => set_scenario(call, name),
        ("GET", ["api", "health"]) => Ok(ok(&json!({
            "services": control
                .health()
                .into_iter()
                .map(|(service, h)| (service, Value::String(h.name().into())))
                .collect::<serde_json::Map<_, _>>()
        }))),
        ("PUT", ["api", "health"]) => set_health(call, None).await,
        ("PUT", ["api", "health", service]) => set_health(call, Some(service)).await,
        ("GET", ["api", "reload"]) => match &admin.reloader {
            Some(reloader) => Ok(ok(&json!(reloader.status()))),
            None => Err(no_files()),
        },
        ("POST", ["api", "reload"]) => match &admin.reloader {
            Some(reloader) => {
                let reloader = reloader.clone();
                let status = tokio::task::spawn_blocking(move || reloader.reload("requested"))
                    .await
                    .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None))?;
                let code = if status.ok {
                    StatusCode::OK
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                Ok(reply(code, &json!(status)))
            }
            None => Err(no_files()),
        },
        ("GET", ["api", "sessions"]) => Ok(ok(&json!({ "sessions": control.sessions() }))),
        ("DELETE", ["api", "sessions", name]) => {
            control.reset(Some(name));
            Ok(ok(&json!({ "reset": true, "session": name })))
        }
        _ => Err(unrouted(call)),
    }
}

fn unrouted(call: &Call<'_>) -> Reply {
    match ROUTES.iter().find(|(p, _)| pattern_matches(p, &call.path)) {
        Some((_, methods)) => {
            let mut reply = error(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("/{} takes {}", call.path.join("/"), methods.join(", ")),
                None,
            );
            if let Ok(allow) = http::HeaderValue::from_str(&methods.join(", ")) {
                reply.headers_mut().insert(header::ALLOW, allow);
            }
            reply
        }
        None => error(
            StatusCode::NOT_FOUND,
            format!("no endpoint /{}", call.path.join("/")),
            Some("GET / lists the endpoints; GET /openapi.json describes them"),
        ),
    }
}

fn no_stub(reference: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        format!("no stub `{reference}`"),
        Some(
            "name a stub by its uid or its id; GET /api/stubs lists them (a session's stubs need its session)",
        ),
    )
}

fn no_files() -> Reply {
    error(
        StatusCode::NOT_FOUND,
        "this server has no fixture files to reload",
        Some("start it with --fixtures PATH"),
    )
}

/// The stubs of a body and, in the same order, each as it was written.
fn load_stubs(call: &Call<'_>) -> std::result::Result<Vec<(crate::Stub, Option<Value>)>, Reply> {
    let source = call.source()?;
    let fixtures = Fixtures::load(&call.admin.schema, std::slice::from_ref(&source))
        .map_err(|errors| problems("the stubs do not load", &errors))?;
    let written: Vec<Value> = match serde_saphyr::from_str::<Value>(source.text()) {
        Ok(Value::Array(items)) => items,
        Ok(Value::Object(mut map)) if map.contains_key("stubs") => match map.remove("stubs") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        Ok(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    // Loading sorts by priority; match the written stubs back by where they start.
    let mut written = written.into_iter().map(Some).collect::<Vec<_>>();
    let stubs = fixtures.stubs().to_vec();
    let mut order: Vec<usize> = (0..stubs.len()).collect();
    order.sort_by_key(|&i| stubs[i].origin.as_ref().map(|o| (o.line, o.col)));
    let mut definitions: Vec<Option<Value>> = vec![None; stubs.len()];
    for (n, i) in order.into_iter().enumerate() {
        definitions[i] = written.get_mut(n).and_then(Option::take);
    }
    Ok(stubs.into_iter().zip(definitions).collect())
}

fn add_stubs(call: &Call<'_>) -> Handled {
    let stubs = load_stubs(call)?;
    if stubs.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "the body has no stubs",
            Some(
                "send a stub (`{\"method\": \"pkg.Service/Method\", \"then\": {…}}`), a list of them, or `{\"stubs\": […]}`",
            ),
        ));
    }
    match call.admin.control.add(stubs, call.session()) {
        Ok(added) => Ok(reply(StatusCode::CREATED, &json!({ "stubs": added }))),
        Err(message) => Err(error(StatusCode::CONFLICT, message, None)),
    }
}

fn replace_stub(call: &Call<'_>, reference: &str) -> Handled {
    let mut stubs = load_stubs(call)?;
    if stubs.len() != 1 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("PUT takes one stub, the body has {}", stubs.len()),
            None,
        ));
    }
    let (stub, definition) = stubs.remove(0);
    match call
        .admin
        .control
        .replace(reference, call.session(), stub, definition)
    {
        Ok(Some(info)) => Ok(ok(&json!({ "stub": info }))),
        Ok(None) => Err(no_stub(reference)),
        Err(message) => Err(error(StatusCode::CONFLICT, message, None)),
    }
}

fn journal_query(call: &Call<'_>) -> std::result::Result<Query, Reply> {
    let q = &call.query;
    let bad = |what: &str, hint: &str| error(StatusCode::BAD_REQUEST, what.to_owned(), Some(hint));
    let time = |key: &str| -> std::result::Result<Option<std::time::SystemTime>, Reply> {
        match q.get(key) {
            None => Ok(None),
            Some(t) => parse_rfc3339(t).map(Some).ok_or_else(|| {
                bad(
                    &format!("`{key}={t}` is not an RFC 3339 time"),
                    "e.g. 2024-05-01T12:00:00Z",
                )
            }),
        }
    };
    let status = match q.get("status") {
        None => None,
        Some(s) => Some(
            s.parse::<i32>()
                .ok()
                .or_else(|| parse_code(s).map(|c| c as i32))
                .ok_or_else(|| {
                    bad(
                        &format!("unknown status `{s}`"),
                        "a name (NOT_FOUND) or a number (5)",
                    )
                })?,
        ),
    };
    let limit = match q.get("limit") {
        None => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| bad(&format!("`limit={n}` is not a number"), "e.g. limit=20"))?,
        ),
    };
    Ok(Query {
        method: q.get("method").cloned(),
        stub: q.get("stub").cloned(),
        status,
        session: call.session().map(|s| Some(s.to_owned())),
        since: time("since")?,
        until: time("until")?,
        unmatched: q.get("unmatched").is_some_and(|v| v != "false"),
        limit,
    })
}

fn verify(call: &Call<'_>) -> Handled {
    let source = call.source()?;
    let request = verify_request(&call.admin.schema, &source)
        .map_err(|errors| problems("the verification does not load", &errors))?;
    let session = call.session().map(str::to_owned).or(request.session);
    let verification = call.admin.control.verify(
        &request.method,
        &request.when,
        request.expect,
        session.as_deref(),
    );
    let code = if verification.ok {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(reply(code, &json!(verification)))
}

fn set_scenario(call: &Call<'_>, name: &str) -> Handled {
    let body = call.value()?;
    let Some(state) = body.get("state").and_then(Value::as_str) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "the body needs a `state`",
            Some("send `{\"state\": \"paid\"}` (and `\"key\"` for a keyed scenario)"),
        ));
    };
    let key = body.get("key").and_then(Value::as_str);
    if call
        .admin
        .control
        .set_scenario(name, key, call.session(), state)
    {
        Ok(ok(
            &json!({ "scenario": name, "state": state, "key": key, "session": call.session() }),
        ))
    } else {
        Err(error(
            StatusCode::NOT_FOUND,
            format!("no scenario `{name}`"),
            Some(&format!(
                "scenarios come from the stubs' `scenario:`; known: {}",
                call.admin.control.scenario_names().join(", ")
            )),
        ))
    }
}

async fn set_health(call: &Call<'_>, service: Option<&str>) -> Handled {
    let body = call.value()?;
    let service = service
        .map(str::to_owned)
        .or_else(|| {
            body.get("service")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let health = match body.get("status").and_then(Value::as_str) {
        Some("SERVING") => Health::Serving,
        Some("NOT_SERVING") => Health::NotServing,
        Some("UNKNOWN") => Health::Unknown,
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "the body needs a `status`: SERVING, NOT_SERVING or UNKNOWN",
                Some("send `{\"status\": \"NOT_SERVING\"}`"),
            ));
        }
    };
    let known = service.is_empty() || call.admin.control.services().contains(&service);
    if !known {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!("no service `{service}`"),
            Some(&format!(
                "this server serves: {}",
                call.admin.control.services().join(", ")
            )),
        ));
    }
    call.admin.control.set_health(&service, health).await;
    Ok(ok(&json!({ "service": service, "status": health.name() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secre", b"secret"));
        assert!(!same(b"", b"secret"));
        assert!(same(b"", b""));
    }

    #[test]
    fn every_route_is_in_the_openapi_description() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (pattern, methods) in ROUTES {
            let key = format!("/{pattern}");
            let described = paths
                .iter()
                .find(|(p, _)| {
                    let shape: Vec<&str> = p
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(|s| if s.starts_with('{') { "{}" } else { s })
                        .collect();
                    shape.join("/") == *pattern
                })
                .unwrap_or_else(|| panic!("{key} is not in openapi.json"));
            for method in *methods {
                assert!(
                    described.1.get(method.to_ascii_lowercase()).is_some(),
                    "{method} {key} is not in openapi.json"
                );
            }
            let described_methods = described
                .1
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .count();
            assert_eq!(
                described_methods,
                methods.len(),
                "{key}: openapi.json describes other methods"
            );
        }
        assert_eq!(
            paths.len(),
            ROUTES.len(),
            "openapi.json describes paths the API does not serve"
        );
    }
}
