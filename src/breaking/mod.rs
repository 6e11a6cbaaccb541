//! The contract checker: `buf breaking`'s rules, categories, config and output formats, over
//! descriptors compiled with protox.
//!
//! [`check`] pairs the previous and current schemas' elements the way buf does (see `engine/walk.rs`),
//! runs every selected [`Rule`] (one small pure function each, declared in [`RULES`]) and
//! returns [`Finding`]s: plain data with the rule, both locations as descriptor paths, a
//! buf-worded message and a fix-it hint. Spans are only resolved when a report is rendered
//! ([`report::annotate`]), so checking stays cheap on large trees.
//!
//! # Examples
//!
//! ```
//! use grpc_double::{Schema, breaking::{self, Config}};
//!
//! // Arrange
//! let previous = Schema::from_sources([("user.proto", "syntax = \"proto3\"; package acme; message User { string name = 1; int32 age = 2; }")])?;
//! let current = Schema::from_sources([("user.proto", "syntax = \"proto3\"; package acme; message User { string name = 1; }")])?;
//! // Act
//! let findings = breaking::check(&previous, &current, &Config::default())?;
//! // Assert
//! assert_eq!(findings[0].rule, "FIELD_NO_DELETE");
//! assert_eq!(findings[0].message, "Previously present field \"2\" with name \"age\" on message \"User\" was deleted.");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod engine;
mod finding;
mod registry;
pub mod report;
mod rule;
mod rules;

pub(crate) use self::engine::lossy_witness;
pub use self::{
    config::Config,
    finding::{Explanation, FieldRef, Finding, Location, Proven, Severity, Unproven},
    registry::{RULES, rule_by_id},
    report::{Annotation, Format, PathDisplay, annotate, annotate_with, render},
    rule::{Category, Rule},
};
use self::{
    engine::{Pairs, Side},
    finding::Findings,
};
use std::collections::BTreeSet;

use crate::{Schema, error::Result, schema::SchemaPair};

/// Which of a schema's own files take part: `--path` and `--exclude-path`, relative to the
/// input root (module-relative file names, e.g. `acme/v1` or `acme/v1/user.proto`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathFilter {
    /// Only files at or below these paths; empty means all.
    pub paths: Vec<String>,
    /// Never files at or below these paths.
    pub exclude_paths: Vec<String>,
}

fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || prefix == "."
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl PathFilter {
    /// Whether a file takes part.
    pub fn admits(&self, file: &str) -> bool {
        (self.paths.is_empty() || self.paths.iter().any(|p| under(file, p)))
            && !self.exclude_paths.iter().any(|p| under(file, p))
    }
}

/// Compares two schemas with the given config and returns every finding, sorted.
///
/// Only the schemas' own files ([`Schema::root_files`]) are compared, not their imports.
///
/// # Errors
///
/// The config names an unknown rule or category.
pub fn check(previous: &Schema, current: &Schema, config: &Config) -> Result<Vec<Finding>> {
    check_filtered(previous, current, config, &PathFilter::default())
}

/// Like [`check`], limited to the files a [`PathFilter`] admits (on both sides).
///
/// # Errors
///
/// The config names an unknown rule or category.
pub fn check_filtered(
    previous: &Schema,
    current: &Schema,
    config: &Config,
    filter: &PathFilter,
) -> Result<Vec<Finding>> {
    check_sides(previous, current, config, filter, BTreeSet::new())
}

/// Like [`check_filtered`], for two inputs loaded by [`Input::load_pair`]: the files the same on
/// both sides are in neither schema, and no rule could find anything in them (each of their
/// elements pairs with itself); their packages still count as present.
///
/// # Errors
///
/// The config names an unknown rule or category.
///
/// [`Input::load_pair`]: crate::schema::Input::load_pair
pub fn check_pair(pair: &SchemaPair, config: &Config, filter: &PathFilter) -> Result<Vec<Finding>> {
    let unchanged = pair
        .unchanged
        .iter()
        .filter(|(file, _)| filter.admits(file))
        .map(|(_, package)| package.clone())
        .collect();
    check_sides(&pair.previous, &pair.current, config, filter, unchanged)
}

fn check_sides(
    previous: &Schema,
    current: &Schema,
    config: &Config,
    filter: &PathFilter,
    unchanged_packages: BTreeSet<String>,
) -> Result<Vec<Finding>> {
    let rules = config.rules()?;
    let files = |schema: &Schema| -> Vec<String> {
        schema
            .root_files()
            .iter()
            .filter(|f| filter.admits(f))
            .cloned()
            .collect()
    };
    let (previous_files, current_files) = (files(previous), files(current));
    let mut prev_side = Side::new(previous.pool(), previous_files.iter().map(String::as_str));
    let mut cur_side = Side::new(current.pool(), current_files.iter().map(String::as_str));
    prev_side.unchanged_packages.clone_from(&unchanged_packages);
    cur_side.unchanged_packages = unchanged_packages;
    let mut out = Findings::new();
    let pairs = Pairs::new(&prev_side, &cur_side);
    for rule in &rules {
        out.start(rule.id, rule.severity());
        rule.scope.run(&prev_side, &cur_side, &pairs, &mut out);
    }
    let package_of = |side: &Side, loc: &Option<Location>| {
        loc.as_ref()
            .and_then(|l| side.files.get(&l.file))
            .map(|f| f.package_name().to_owned())
    };
    let mut findings: Vec<Finding> = out
        .into_vec()
        .into_iter()
        .filter(|f| {
            let Some(rule) = rule_by_id(f.rule) else {
                return true;
            };
            let ignored_path = [&f.current, &f.previous]
                .into_iter()
                .flatten()
                .any(|l| config.ignores(rule, &l.file));
            let unstable = config.ignore_unstable_packages
                && [
                    package_of(&cur_side, &f.current),
                    package_of(&prev_side, &f.previous),
                ]
                .into_iter()
                .flatten()
                .any(|p| config::is_unstable_package(&p));
            !ignored_path && !unstable
        })
        .collect();
    findings.sort_by(|a, b| {
        (a.file(), &a.current, a.rule, &a.message).cmp(&(b.file(), &b.current, b.rule, &b.message))
    });
    findings.dedup();
    Ok(findings)
}

/// Whether any finding is breaking (an error, not a `LOSSY` warning).
pub fn is_breaking(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}
