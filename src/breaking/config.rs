//! The `breaking` section of a `buf.yaml` (v1beta1, v1 and v2), from a file or inline JSON/YAML
//! exactly as `buf breaking --config` accepts it, and which rules it selects.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use serde::{Deserialize, de::IgnoredAny};

use super::{Category, registry::RULES, rule::Rule};
use crate::error::{Error, ErrorKind, Result};

/// Which rules run and which paths they skip.
///
/// # Examples
///
/// ```
/// use grpc_double::breaking::Config;
///
/// let config = Config::parse(r#"{"version":"v1","breaking":{"use":["WIRE"],"except":["FIELD_SAME_DEFAULT"]}}"#)?;
/// assert!(config.rules()?.iter().any(|r| r.id == "FIELD_WIRE_COMPATIBLE_TYPE"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// buf config version: `v1beta1`, `v1` or `v2` (the default).
    pub version: String,
    /// Rule IDs and categories to run; empty means `FILE`.
    pub use_: Vec<String>,
    /// Rule IDs and categories removed from `use`.
    pub except: Vec<String>,
    /// Paths (files or directories, relative to the module root) no rule looks at.
    pub ignore: Vec<String>,
    /// Rule ID or category -> paths that rule skips.
    pub ignore_only: BTreeMap<String, Vec<String>>,
    /// Skip packages whose last component is unstable (`v1alpha1`, `v2beta`, `v1test`, ...).
    pub ignore_unstable_packages: bool,
    /// For a v2 `buf.yaml` with one module: that module's path, stripped from ignore paths.
    pub module_path: Option<String>,
}

/// `buf.yaml` (v1beta1, v1 and v2 keys): unknown keys are rejected, as buf rejects them; the
/// sections other than `breaking` are accepted and not read.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct BufYaml {
    version: Option<String>,
    breaking: Option<BreakingSection>,
    modules: Vec<Module>,
    name: IgnoredAny,
    deps: IgnoredAny,
    build: IgnoredAny,
    lint: IgnoredAny,
    plugins: IgnoredAny,
    policies: IgnoredAny,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Module {
    path: Option<String>,
    breaking: Option<BreakingSection>,
    name: IgnoredAny,
    includes: IgnoredAny,
    excludes: IgnoredAny,
    lint: IgnoredAny,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct BreakingSection {
    #[serde(rename = "use")]
    use_: Vec<String>,
    except: Vec<String>,
    ignore: Vec<String>,
    ignore_only: BTreeMap<String, Vec<String>>,
    ignore_unstable_packages: bool,
    disable_builtin: IgnoredAny,
}

/// Rules that the v1 and v1beta1 rule sets do not have (they came with v2).
const V2_ONLY: [&str; 3] = [
    "EXTENSION_NO_DELETE",
    "FIELD_SAME_DEFAULT",
    "PACKAGE_EXTENSION_NO_DELETE",
];

/// An unknown key, as serde reports it (`unknown field `usee`, expected one of ...`, with the
/// line and column), becomes `file:line:col: unknown key "usee"` with a did-you-mean.
fn unknown_key(message: &str, file: &str) -> Option<Error> {
    let (_, rest) = message.split_once("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest
        .split_once("expected ")
        .map(|(_, list)| list.lines().next().unwrap_or(list))
        .map(|list| list.split(" at line ").next().unwrap_or(list))
        .map(|list| {
            let list = list.trim_start_matches("one of ");
            list.split([',', ' '])
                .map(|k| k.trim_matches(|c: char| c == '`' || c.is_whitespace()))
                .filter(|k| !k.is_empty() && *k != "or")
                .collect()
        })
        .unwrap_or_default();
    let number_after = |word: &str| {
        let (_, after) = message.split_once(word)?;
        let digits: String = after
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<usize>().ok()
    };
    let (line, col) = (number_after("line ")?, number_after("column ")?);
    Some(config_error(
        format!("{file}:{line}:{col}: unknown key \"{key}\""),
        Some(crate::schema::did_you_mean(
            key,
            expected.iter().copied(),
            "the keys here are: ",
        )),
    ))
}

fn config_error(message: impl Into<String>, help: Option<String>) -> Error {
    ErrorKind::Config {
        message: message.into(),
        help,
    }
    .into()
}

impl Config {
    /// Parses a `buf.yaml` or inline config, given as JSON or YAML text.
    ///
    /// # Errors
    ///
    /// The text is neither valid JSON nor YAML of the `buf.yaml` shape.
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_named(text, "<config>")
    }

    /// [`Config::parse`] for text read from `name` (errors are located in it).
    fn parse_named(text: &str, name: &str) -> Result<Self> {
        let yaml: BufYaml = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|err| {
                let err = err.to_string();
                unknown_key(&err, name)
                    .unwrap_or_else(|| config_error(format!("invalid JSON config: {err}"), None))
            })?
        } else {
            serde_saphyr::from_str(text).map_err(|err| {
                let err = err.to_string();
                unknown_key(&err, name)
                    .unwrap_or_else(|| config_error(format!("invalid YAML config: {err}"), None))
            })?
        };
        let version = yaml.version.unwrap_or_else(|| "v1beta1".to_owned());
        if !matches!(version.as_str(), "v1beta1" | "v1" | "v2") {
            return Err(config_error(
                format!("unknown config version \"{version}\""),
                Some("use version: v1 or version: v2".into()),
            ));
        }
        let mut module_path = None;
        let mut section = yaml.breaking;
        if version == "v2" {
            if let [module] = &yaml.modules[..] {
                module_path = module
                    .path
                    .clone()
                    .filter(|p| p != "." && !p.is_empty())
                    .map(|p| p.trim_end_matches('/').to_owned());
            }
            if let Some(module_section) = yaml.modules.into_iter().find_map(|m| m.breaking) {
                section = Some(module_section);
            }
        }
        let section = section.unwrap_or_default();
        let config = Config {
            version,
            use_: section.use_,
            except: section.except,
            ignore: section.ignore,
            ignore_only: section.ignore_only,
            ignore_unstable_packages: section.ignore_unstable_packages,
            module_path,
        };
        config.rules()?;
        Ok(config)
    }

    /// Reads a config file (`buf.yaml`).
    ///
    /// # Errors
    ///
    /// I/O errors, and what [`Config::parse`] rejects.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|err| Error::io(path, err))?;
        let name = path.display().to_string();
        Self::parse_named(&text, name.strip_prefix("./").unwrap_or(&name))
    }

    /// Parses `--config`: inline JSON/YAML, or a path to a config file.
    ///
    /// # Errors
    ///
    /// What [`Config::read`] and [`Config::parse`] reject.
    pub fn from_arg(arg: &str) -> Result<Self> {
        let path = Path::new(arg);
        if !arg.contains('\n') && !arg.trim_start().starts_with('{') && path.is_file() {
            Self::read(path)
        } else {
            Self::parse(arg)
        }
    }

    /// Resolves `use` and `except` into the rules to run, sorted by ID.
    ///
    /// `LOSSY` (grpc-double's warnings) joins automatically when `WIRE` or `WIRE_JSON` is used,
    /// unless excepted. Deprecated rules run only when named by ID.
    ///
    /// # Errors
    ///
    /// An unknown rule ID or category, with a did-you-mean.
    pub fn rules(&self) -> Result<Vec<&'static Rule>> {
        for id in self
            .use_
            .iter()
            .chain(&self.except)
            .chain(self.ignore_only.keys())
        {
            check_id(id)?;
        }
        let mut uses: Vec<String> = if self.use_.is_empty() {
            vec!["FILE".to_owned()]
        } else {
            self.use_.iter().map(|s| s.to_ascii_uppercase()).collect()
        };
        if uses.iter().any(|u| u == "WIRE" || u == "WIRE_JSON") {
            uses.push("LOSSY".to_owned());
        }
        let except: BTreeSet<String> = self.except.iter().map(|s| s.to_ascii_uppercase()).collect();
        let v1 = self.version != "v2";
        let selected = |rule: &Rule, set: &[String]| {
            set.iter().any(|s| s == rule.id)
                || (!(rule.deprecated || v1 && V2_ONLY.contains(&rule.id))
                    && rule
                        .categories
                        .iter()
                        .any(|c| set.iter().any(|s| s == c.id())))
        };
        let except: Vec<String> = except.into_iter().collect();
        Ok(RULES
            .iter()
            .filter(|rule| selected(rule, &uses) && !selected(rule, &except))
            .collect())
    }

    /// Whether a finding of `rule` in file `path` (module-relative) is ignored.
    pub(crate) fn ignores(&self, rule: &Rule, path: &str) -> bool {
        let matches = |patterns: &[String]| {
            patterns.iter().any(|pattern| {
                let pattern = pattern.trim_end_matches('/');
                let pattern = self
                    .module_path
                    .as_deref()
                    .and_then(|m| pattern.strip_prefix(m))
                    .map_or(pattern, |p| p.trim_start_matches('/'));
                pattern.is_empty()
                    || pattern == "."
                    || path == pattern
                    || path
                        .strip_prefix(pattern)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        };
        if matches(&self.ignore) {
            return true;
        }
        self.ignore_only.iter().any(|(id, paths)| {
            let id = id.to_ascii_uppercase();
            (id == rule.id || rule.categories.iter().any(|c| c.id() == id)) && matches(paths)
        })
    }
}

/// Whether a package's last component marks it unstable (`v1alpha1`, `v1beta`, `v1test`,
/// `v1p1beta1`); a package needs at least two components.
pub(crate) fn is_unstable_package(package: &str) -> bool {
    let Some((_, last)) = package.rsplit_once('.') else {
        return false;
    };
    let Some(rest) = last.strip_prefix('v') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let rest = &rest[digits..];
    let alpha_beta = |s: &str| {
        ["alpha", "beta"].iter().any(|w| {
            s.strip_prefix(w)
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
        })
    };
    if rest.starts_with("test") || alpha_beta(rest) {
        return true;
    }
    // v1p1beta1
    if let Some(p) = rest.strip_prefix('p') {
        let digits = p.chars().take_while(char::is_ascii_digit).count();
        return digits > 0 && alpha_beta(&p[digits..]);
    }
    false
}

fn check_id(id: &str) -> Result<()> {
    if Category::from_id(id).is_some() || RULES.iter().any(|r| r.id.eq_ignore_ascii_case(id)) {
        return Ok(());
    }
    let upper = id.to_ascii_uppercase();
    let best = RULES
        .iter()
        .map(|r| r.id)
        .chain(Category::ALL.iter().map(|c| c.id()))
        .map(|candidate| (strsim::jaro_winkler(&upper, candidate), candidate))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let help = match best {
        Some((score, candidate)) if score > 0.8 => Some(format!(
            "did you mean `{candidate}`? `grpc-double rules` lists every rule and category"
        )),
        _ => Some("`grpc-double rules` lists every rule and category".to_owned()),
    };
    Err(ErrorKind::UnknownRule {
        id: id.to_owned(),
        help,
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unstable_packages_follow_buf() {
        for p in [
            "foo.v1alpha1",
            "foo.v1beta",
            "foo.v2test",
            "foo.v1testfoo",
            "a.b.v1p1beta1",
            "foo.v1alpha",
        ] {
            assert!(is_unstable_package(p), "{p}");
        }
        for p in [
            "foo.v1",
            "v1beta1",
            "foo",
            "foo.v1p1",
            "foo.valpha1",
            "foo.v1gamma",
        ] {
            assert!(!is_unstable_package(p), "{p}");
        }
    }
}
