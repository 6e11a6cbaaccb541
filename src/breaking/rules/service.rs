//! Service-level rules: deleted RPCs, request/response types, streaming and idempotency.

use prost_reflect::{MethodDescriptor, ServiceDescriptor};

use crate::breaking::{
    engine::loc,
    finding::{Findings, Location},
};

fn method_loc(m: &MethodDescriptor, extra: &[i32]) -> Location {
    loc(&m.parent_file(), m.path()).child(extra)
}

/// RPC_NO_DELETE
pub(crate) fn rpc_no_delete(p: &ServiceDescriptor, c: &ServiceDescriptor, out: &mut Findings) {
    for method in p.methods() {
        if c.methods().any(|m| m.name() == method.name()) {
            continue;
        }
        out.push(
            Some(loc(&c.parent_file(), c.path())),
            Some(loc(&p.parent_file(), p.path())),
            format!(
                "Previously present RPC \"{}\" on service \"{}\" was deleted.",
                method.name(),
                c.name()
            ),
        )
        .hint(format!(
            "keep RPC {} and mark it deprecated (option deprecated = true;) until no client calls it",
            method.name()
        ));
    }
}

fn streaming(
    side: &str,
    before: bool,
    after: bool,
    p: &MethodDescriptor,
    c: &MethodDescriptor,
    out: &mut Findings,
) {
    if before == after {
        return;
    }
    let name = |s: bool| if s { "streaming" } else { "unary" };
    out.push(
        Some(method_loc(c, &[])),
        Some(method_loc(p, &[])),
        format!(
            "RPC \"{}\" on service \"{}\" changed from {side} {} to {side} {}.",
            c.name(),
            c.parent_service().name(),
            name(before),
            name(after)
        ),
    )
    .hint(format!(
        "add a new RPC with {side} {} instead of changing {}",
        name(after),
        c.name()
    ));
}

/// RPC_SAME_CLIENT_STREAMING
pub(crate) fn rpc_same_client_streaming(
    p: &MethodDescriptor,
    c: &MethodDescriptor,
    out: &mut Findings,
) {
    streaming(
        "client",
        p.is_client_streaming(),
        c.is_client_streaming(),
        p,
        c,
        out,
    );
}

/// RPC_SAME_SERVER_STREAMING
pub(crate) fn rpc_same_server_streaming(
    p: &MethodDescriptor,
    c: &MethodDescriptor,
    out: &mut Findings,
) {
    streaming(
        "server",
        p.is_server_streaming(),
        c.is_server_streaming(),
        p,
        c,
        out,
    );
}

fn same_type(
    what: &str,
    number: i32,
    before: &str,
    after: &str,
    p: &MethodDescriptor,
    c: &MethodDescriptor,
    out: &mut Findings,
) {
    if before == after {
        return;
    }
    out.push(
        Some(method_loc(c, &[number])),
        Some(method_loc(p, &[number])),
        format!(
            "RPC \"{}\" on service \"{}\" changed {what} type from \"{before}\" to \"{after}\".",
            c.name(),
            c.parent_service().name()
        ),
    )
    .hint(format!(
        "keep {what} type \"{before}\" (add fields to it instead), or add a new RPC"
    ));
}

/// RPC_SAME_REQUEST_TYPE
pub(crate) fn rpc_same_request_type(
    p: &MethodDescriptor,
    c: &MethodDescriptor,
    out: &mut Findings,
) {
    same_type(
        "request",
        2,
        p.input().full_name(),
        c.input().full_name(),
        p,
        c,
        out,
    );
}

/// RPC_SAME_RESPONSE_TYPE
pub(crate) fn rpc_same_response_type(
    p: &MethodDescriptor,
    c: &MethodDescriptor,
    out: &mut Findings,
) {
    same_type(
        "response",
        3,
        p.output().full_name(),
        c.output().full_name(),
        p,
        c,
        out,
    );
}

fn idempotency(m: &MethodDescriptor) -> &'static str {
    m.method_descriptor_proto()
        .options
        .as_ref()
        .map_or(
            prost_types::method_options::IdempotencyLevel::IdempotencyUnknown,
            |o| o.idempotency_level(),
        )
        .as_str_name()
}

/// RPC_SAME_IDEMPOTENCY_LEVEL
pub(crate) fn rpc_same_idempotency_level(
    p: &MethodDescriptor,
    c: &MethodDescriptor,
    out: &mut Findings,
) {
    let (before, after) = (idempotency(p), idempotency(c));
    if before != after {
        out.push(
            Some(method_loc(c, &[4, 34])),
            Some(method_loc(p, &[4, 34])),
            format!(
                "RPC \"{}\" on service \"{}\" changed option \"idempotency_level\" from \"{before}\" to \"{after}\".",
                c.name(),
                c.parent_service().name()
            ),
        )
        .hint(format!("restore option idempotency_level = {before}; (Connect maps it to HTTP GET)"));
    }
}
