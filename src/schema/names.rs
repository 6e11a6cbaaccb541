//! Names as users write them: gRPC methods as `package.Service/Method` (both ways), fields by
//! proto or JSON name, and "did you mean" suggestions for typos.
//!
//! Every capability names things for people — fixture errors, breaking findings, CLI flags — so
//! the spelling rules live here, once.

use prost_reflect::{DescriptorPool, FieldDescriptor, MessageDescriptor, MethodDescriptor};

/// Gets `package.Service/Method` for a method, e.g. `userservice.UserService/GetUser`.
pub fn method_name(method: &MethodDescriptor) -> String {
    format!("{}/{}", method.parent_service().full_name(), method.name())
}

/// Looks up a method written `package.Service/Method` (a leading `/` is accepted).
pub fn find_method(pool: &DescriptorPool, name: &str) -> Option<MethodDescriptor> {
    let name = name.strip_prefix('/').unwrap_or(name);
    let (service, method) = name.rsplit_once('/')?;
    pool.get_service_by_name(service)?
        .methods()
        .find(|m| m.name() == method)
}

/// Finds a field by proto name, then by JSON name (fixtures and templates accept both).
pub(crate) fn find_field(desc: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    desc.get_field_by_name(name)
        .or_else(|| desc.get_field_by_json_name(name))
}

/// The closest candidate by edit distance, when it is close enough to be a typo.
pub(crate) fn suggest<'s>(
    word: &str,
    candidates: impl Iterator<Item = &'s str>,
) -> Option<&'s str> {
    let word = word.to_ascii_lowercase();
    candidates
        .map(|c| (strsim::jaro_winkler(&word, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A hint for a word that names nothing: "did you mean `x`?" when one candidate is close, else
/// the list of what there is (`intro` then the candidates, comma-separated).
pub(crate) fn did_you_mean<'s>(
    word: &str,
    candidates: impl Iterator<Item = &'s str> + Clone,
    intro: &str,
) -> String {
    match suggest(word, candidates.clone()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("{intro}{}", candidates.collect::<Vec<_>>().join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_named_and_found_both_ways() {
        let schema = crate::Schema::bundled();
        let method = find_method(schema.pool(), "/userservice.UserService/Chat").unwrap();
        assert_eq!(method_name(&method), "userservice.UserService/Chat");
        assert!(find_method(schema.pool(), "userservice.UserService/Nope").is_none());
        assert!(find_method(schema.pool(), "GetUser").is_none());
    }

    #[test]
    fn suggestions_need_a_close_match() {
        let names = ["user_id", "name", "email"];
        assert_eq!(suggest("user_idd", names.into_iter()), Some("user_id"));
        assert_eq!(suggest("zzz", names.into_iter()), None);
    }
}
