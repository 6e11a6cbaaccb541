//! Which message types a run covers.

use prost_reflect::MessageDescriptor;

use super::Options;
use crate::{Result, Schema, error::ErrorKind};

/// The message types a run covers: `--message` names, else every type (nested included, map
/// entries excluded) of the root files or, with `--package`, of those packages anywhere in the pool.
pub(super) fn select_messages(
    schema: &Schema,
    options: &Options,
) -> Result<Vec<MessageDescriptor>> {
    let pool = schema.pool();
    if !options.messages.is_empty() {
        let mut out = Vec::new();
        for name in &options.messages {
            let name = name.strip_prefix('.').unwrap_or(name);
            match pool.get_message_by_name(name) {
                Some(desc) => out.push(desc),
                None => {
                    let closest = pool
                        .all_messages()
                        .map(|m| m.full_name().to_owned())
                        .min_by(|a, b| {
                            strsim::levenshtein(a, name).cmp(&strsim::levenshtein(b, name))
                        });
                    return Err(ErrorKind::UnknownMessage {
                        name: name.to_owned(),
                        help: closest.map(|c| {
                            format!("did you mean `{c}`? Pass a full name, e.g. `--message {c}`")
                        }),
                    }
                    .into());
                }
            }
        }
        return Ok(out);
    }
    let mut out: Vec<MessageDescriptor> = if options.packages.is_empty() {
        schema
            .root_files()
            .iter()
            .filter_map(|f| pool.get_file_by_name(f))
            .flat_map(|f| f.messages().collect::<Vec<_>>())
            .flat_map(|m| with_nested(&m))
            .collect()
    } else {
        pool.all_messages()
            .filter(|m| !m.is_map_entry())
            .filter(|m| {
                options.packages.iter().any(|p| {
                    m.package_name() == p || m.package_name().starts_with(&format!("{p}."))
                })
            })
            .collect()
    };
    out.sort_by(|a, b| a.full_name().cmp(b.full_name()));
    out.dedup_by(|a, b| a.full_name() == b.full_name());
    if out.is_empty() {
        return Err(ErrorKind::NoMessages.into());
    }
    Ok(out)
}

fn with_nested(desc: &MessageDescriptor) -> Vec<MessageDescriptor> {
    let mut out = vec![desc.clone()];
    for child in desc.child_messages().filter(|c| !c.is_map_entry()) {
        out.extend(with_nested(&child));
    }
    out
}
