//! One unary call answered without a transport, for the fuzz targets (`fuzz/`): the request's
//! bytes are decoded as the codec decodes them, matched against the stubs as a route matches
//! them (the miss explanation included), and the chosen reply's messages, status and metadata
//! are rendered as the server renders them.

use std::{collections::HashMap, sync::Arc, time::SystemTime};

use prost_reflect::MethodDescriptor;
use tonic::metadata::MetadataMap;

use super::{
    codec::decode_frame,
    route::{Counter, Lookup, MethodEntry, choose, reply_context},
};
use crate::{
    fake::{
        model::{Call, Fixtures, StreamPart, render},
        template::{CallEnv, CallScope, Received, RequestMetadata},
    },
    schema::method_name,
};

/// Answers one call of `method` whose request is `bytes`: the encoded reply messages, or the
/// status message of a refusal (an undecodable request, no matching stub, a failed render).
pub(crate) fn answer(
    fixtures: &Fixtures,
    method: &MethodDescriptor,
    metadata: MetadataMap,
    bytes: &[u8],
) -> Result<Vec<Vec<u8>>, String> {
    let name: Arc<str> = method_name(method).into();
    let stubs = fixtures
        .stubs()
        .iter()
        .filter(|stub| *stub.method_name() == *name)
        .map(|stub| (stub.clone(), Arc::new(Counter::default())))
        .collect();
    let entry = Arc::new(MethodEntry::new(method.clone(), name.clone(), stubs));
    let mut bytes = bytes::Bytes::copy_from_slice(bytes);
    let message = decode_frame(&method.input(), entry.flat.as_ref(), &mut bytes, |_| {})
        .map_err(|err| err.to_string())?;
    let scope = Arc::new(CallScope {
        received: Received::one(message.clone()),
        metadata: Arc::new(RequestMetadata::new(metadata)),
        method: name.clone(),
        env: Arc::new(CallEnv::new(1, 7, SystemTime::UNIX_EPOCH)),
    });
    let call = Call::new(&scope, Some(&message), 1);
    let scenarios = HashMap::new();
    let lookup = Lookup {
        scenarios: &scenarios,
        session: None,
    };
    let choice = choose(&[&entry], &call, &lookup, |_| true)
        .map_err(|status| status.message().to_owned())?;
    let Some(reply) = choice.reply() else {
        return Ok(Vec::new());
    };
    let ctx = reply_context(&call, &choice);
    render::metadata(&reply.headers, &ctx)?;
    render::metadata(&reply.trailers, &ctx)?;
    let mut out = Vec::new();
    for part in &reply.stream {
        if let StreamPart::Message(item) = part {
            out.push(render::payload(&item.payload, &ctx)?.to_vec());
        }
    }
    if let Some(status) = &reply.status {
        render::status(status, &ctx)?;
    }
    Ok(out)
}
