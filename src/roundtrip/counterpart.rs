//! Which message type of the new schema reads what a type of the old schema wrote.
//!
//! By full name first. A type the new schema no longer has by that name may have been renamed,
//! and the wire says by what: bytes carry field numbers, not type names, so when a field keeps
//! its number (in a message that pairs) and its type changes from `Old` to `New`, readers of that
//! field read `New` from what writers of `Old` wrote. That is a *wire-safe rename* when `Old` is
//! gone from the new schema and `New` is new in it (otherwise the field switched to another type
//! that both schemas have, which is a type change, not a rename). RPCs pair their request and
//! response types the same way (the method path carries the bytes). Pairs found this way are
//! followed in turn, so a renamed type used only inside another renamed type pairs too, and a
//! type nested in a renamed type pairs by its nested name.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};

/// What reads an old type's data in the new schema.
#[derive(Debug, Clone)]
pub(super) enum Counterpart {
    /// The type of the same full name.
    Same(MessageDescriptor),
    /// A renamed type, with how the wire pairs it (e.g. `field shop.v1.Order.customer (4)`).
    Renamed(MessageDescriptor, String),
    /// Nothing: why no type pairs with it.
    Missing(String),
}

/// The wire pairing of two schemas, computed once per run.
pub(super) struct Counterparts {
    new: DescriptorPool,
    /// Candidate renames of old types gone from the new schema: new name → how it pairs.
    renames: BTreeMap<String, BTreeMap<String, String>>,
    /// Old types gone from the new schema whose fields now hold a type both schemas have.
    switches: BTreeMap<String, (String, String)>,
}

impl Counterparts {
    /// Walks both schemas from the types and RPCs that keep their names.
    pub(super) fn new(old: &DescriptorPool, new: &DescriptorPool) -> Self {
        let mut this = Self {
            new: new.clone(),
            renames: BTreeMap::new(),
            switches: BTreeMap::new(),
        };
        let mut queue: VecDeque<(MessageDescriptor, MessageDescriptor)> = old
            .all_messages()
            .filter_map(|o| Some((new.get_message_by_name(o.full_name())?, o)))
            .map(|(n, o)| (o, n))
            .collect();
        for service in old.services() {
            let Some(new_service) = new.get_service_by_name(service.full_name()) else {
                continue;
            };
            for method in service.methods() {
                let Some(new_method) = new_service.methods().find(|m| m.name() == method.name())
                else {
                    continue;
                };
                let via = format!("RPC {}/{}", service.full_name(), method.name());
                for (o, n, what) in [
                    (method.input(), new_method.input(), "request"),
                    (method.output(), new_method.output(), "response"),
                ] {
                    if let Some(pair) = this.edge(old, o, n, || format!("{via} ({what})")) {
                        queue.push_back(pair);
                    }
                }
            }
        }
        let mut seen = BTreeSet::new();
        while let Some((o, n)) = queue.pop_front() {
            if !seen.insert((o.full_name().to_owned(), n.full_name().to_owned())) {
                continue;
            }
            for field in o.fields() {
                let (Kind::Message(ot), Some(nf)) = (field.kind(), n.get_field(field.number()))
                else {
                    continue;
                };
                let Kind::Message(nt) = nf.kind() else {
                    continue;
                };
                let via = || format!("field {} ({})", field.full_name(), field.number());
                if let Some(pair) = this.edge(old, ot, nt, via) {
                    queue.push_back(pair);
                }
            }
        }
        this
    }

    /// Records what a field (or RPC) that kept its number says about two types; returns the pair
    /// to follow.
    fn edge(
        &mut self,
        old: &DescriptorPool,
        o: MessageDescriptor,
        n: MessageDescriptor,
        via: impl FnOnce() -> String,
    ) -> Option<(MessageDescriptor, MessageDescriptor)> {
        if o.full_name() == n.full_name() || (o.is_map_entry() && n.is_map_entry()) {
            return Some((o, n));
        }
        let gone = self.new.get_message_by_name(o.full_name()).is_none();
        if !gone {
            return None; // the old type still reads its own data: a type change of the field
        }
        if old.get_message_by_name(n.full_name()).is_some() {
            self.switches
                .entry(o.full_name().to_owned())
                .or_insert_with(|| (n.full_name().to_owned(), via()));
            return None;
        }
        self.renames
            .entry(o.full_name().to_owned())
            .or_default()
            .entry(n.full_name().to_owned())
            .or_insert_with(via);
        Some((o, n))
    }

    /// Gets what reads `old`'s data in the new schema.
    pub(super) fn of(&self, old: &MessageDescriptor) -> Counterpart {
        if let Some(same) = self.new.get_message_by_name(old.full_name()) {
            return Counterpart::Same(same);
        }
        if let Some(candidates) = self.renames.get(old.full_name()) {
            if let (1, Some((name, via))) = (candidates.len(), candidates.iter().next())
                && let Some(renamed) = self.new.get_message_by_name(name)
            {
                return Counterpart::Renamed(renamed, via.clone());
            }
            let all: Vec<String> = candidates
                .iter()
                .map(|(name, via)| format!("{name} (through {via})"))
                .collect();
            return Counterpart::Missing(format!(
                "not in the new schema, and the wire pairs it with more than one new type: {}",
                all.join(", ")
            ));
        }
        // Nested in a renamed type: the same nested name under the new name.
        if let Some(parent) = old.parent_message()
            && let Counterpart::Renamed(new_parent, via) = self.of(&parent)
        {
            let name = format!("{}.{}", new_parent.full_name(), old.name());
            if let Some(nested) = self.new.get_message_by_name(&name) {
                return Counterpart::Renamed(
                    nested,
                    format!(
                        "nested in {} → {} ({via})",
                        parent.full_name(),
                        new_parent.full_name()
                    ),
                );
            }
        }
        if let Some((name, via)) = self.switches.get(old.full_name()) {
            return Counterpart::Missing(format!(
                "not in the new schema; {via} now holds {name}, which the old schema has too: a type change, not a rename"
            ));
        }
        Counterpart::Missing(
            "not in the new schema, and no field or RPC that kept its number holds it under a new name"
                .to_owned(),
        )
    }
}
