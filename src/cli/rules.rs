//! `grpc-double rules`: every breaking rule with its categories and purpose (the listing that
//! `docs/rules.md` is generated from).

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use grpc_double::breaking::RULES;

use super::{
    exit,
    output::{CliError, Out},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RulesFormat {
    /// Aligned columns: ID, categories, default, purpose.
    Text,
    /// JSON Lines shaped like `buf config ls-breaking-rules --format json`.
    Json,
    /// A Markdown table (docs/rules.md).
    Markdown,
}

#[derive(Debug, Args)]
pub(crate) struct RulesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    format: RulesFormat,
}

/// Renders the rule listing.
fn listing(markdown: bool, json: bool) -> String {
    let mut out = String::new();
    if json {
        for rule in RULES {
            let value = serde_json::json!({
                "id": rule.id,
                "categories": rule.categories.iter().map(|c| c.id()).collect::<Vec<_>>(),
                "default": rule.default,
                "purpose": rule.purpose,
                "plugin": "",
                "deprecated": rule.deprecated,
            });
            out.push_str(&value.to_string());
            out.push('\n');
        }
        return out;
    }
    if markdown {
        out.push_str("| ID | Categories | Default | Purpose |\n|---|---|---|---|\n");
        for rule in RULES {
            let categories: Vec<&str> = rule.categories.iter().map(|c| c.id()).collect();
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                rule.id,
                if categories.is_empty() {
                    "(deprecated)".to_owned()
                } else {
                    categories.join(", ")
                },
                if rule.default { "yes" } else { "" },
                rule.purpose
            ));
        }
        return out;
    }
    let width = RULES.iter().map(|r| r.id.len()).max().unwrap_or(0);
    let cat_width = 32;
    out.push_str(&format!(
        "{:width$}  {:cat_width$}  {:7}  PURPOSE\n",
        "ID", "CATEGORIES", "DEFAULT"
    ));
    for rule in RULES {
        let categories: Vec<&str> = rule.categories.iter().map(|c| c.id()).collect();
        let categories = if categories.is_empty() {
            "(deprecated)".to_owned()
        } else {
            categories.join(", ")
        };
        out.push_str(&format!(
            "{:width$}  {:cat_width$}  {:7}  {}\n",
            rule.id,
            categories,
            if rule.default { "yes" } else { "" },
            rule.purpose
        ));
    }
    out
}

pub(crate) fn run(args: &RulesArgs) -> Result<ExitCode, CliError> {
    Out::new().write(&listing(
        args.format == RulesFormat::Markdown,
        args.format == RulesFormat::Json,
    ))?;
    Ok(exit::code(exit::OK))
}
