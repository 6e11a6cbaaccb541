//! What a row's call must answer, and the comparison that decides whether the row may be
//! reported.

use crate::wire::Reply;

/// The answer a fixture promises for one call.
#[derive(Debug, Clone)]
pub struct Expected {
    /// Every response frame, concatenated (empty for an error).
    pub data: Vec<u8>,
    pub grpc_status: i32,
    /// Checked when set.
    pub grpc_message: Option<String>,
    /// The encoded `google.rpc.Status` of `grpc-status-details-bin`, when the reply has details.
    pub details: Option<Vec<u8>>,
}

impl Expected {
    pub fn ok(data: Vec<u8>) -> Self {
        Expected {
            data,
            grpc_status: 0,
            grpc_message: None,
            details: None,
        }
    }
}

/// `Ok` when `reply` is exactly what `expected` says; otherwise what differs.
pub fn compare(expected: &Expected, reply: &Reply) -> Result<(), String> {
    if reply.http_status != 200 {
        return Err(format!("HTTP status {}, expected 200", reply.http_status));
    }
    if !reply
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/grpc"))
    {
        return Err(format!(
            "content-type {:?}, expected application/grpc",
            reply.content_type
        ));
    }
    if reply.grpc_status != Some(expected.grpc_status) {
        return Err(format!(
            "grpc-status {:?} (grpc-message {:?}), expected {}",
            reply.grpc_status, reply.grpc_message, expected.grpc_status
        ));
    }
    if let Some(message) = &expected.grpc_message
        && reply.grpc_message.as_deref() != Some(message.as_str())
    {
        return Err(format!(
            "grpc-message {:?}, expected {message:?}",
            reply.grpc_message
        ));
    }
    if reply.details != expected.details {
        return Err(format!(
            "grpc-status-details-bin differs: got {}, expected {}",
            describe(reply.details.as_deref()),
            describe(expected.details.as_deref())
        ));
    }
    if reply.data != expected.data {
        let at = reply
            .data
            .iter()
            .zip(&expected.data)
            .position(|(a, b)| a != b)
            .unwrap_or(reply.data.len().min(expected.data.len()));
        return Err(format!(
            "response data differs at byte {at}: got {} bytes, expected {} bytes",
            reply.data.len(),
            expected.data.len()
        ));
    }
    Ok(())
}

fn describe(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "none".into(),
        Some(bytes) => {
            let hex: String = bytes.iter().take(48).map(|b| format!("{b:02x}")).collect();
            format!("{} bytes ({hex}…)", bytes.len())
        }
    }
}
