//! File-level rules: deletions of files, packages and top-level or nested elements, and file
//! options that change generated code.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::FileDescriptor;
use prost_types::FileOptions;

use crate::breaking::{
    engine::{Declared, Side, deleted_element_loc, loc},
    finding::{Findings, Location},
};

/// `FileDescriptorProto.package`.
const PACKAGE: i32 = 2;
/// `FileDescriptorProto.options`.
const OPTIONS: i32 = 8;
/// `FileDescriptorProto.syntax`.
const SYNTAX: i32 = 12;

fn no_delete_in_file(
    kind: &str,
    pick: fn(&Declared) -> &BTreeMap<String, Location>,
    previous: &Side,
    current: &Side,
    out: &mut Findings,
) {
    for (name, prev_file) in &previous.files {
        let Some(cur_file) = current.files.get(name) else {
            continue;
        };
        let (Some(prev), Some(cur)) = (previous.declared(name), current.declared(name)) else {
            continue;
        };
        for (element, prev_loc) in pick(prev) {
            if !pick(cur).contains_key(element) {
                out.push(
                    Some(deleted_element_loc(cur_file, element)),
                    Some(prev_loc.clone()),
                    format!("Previously present {kind} \"{element}\" was deleted from file."),
                )
                .hint(format!(
                    "restore {kind} \"{element}\" (mark it deprecated instead of deleting it), or select the PACKAGE category if it only moved to another file of the package"
                ));
            }
        }
        let _ = prev_file;
    }
}

/// ENUM_NO_DELETE
pub(crate) fn enum_no_delete(p: &Side, c: &Side, out: &mut Findings) {
    no_delete_in_file("enum", |d| &d.enums, p, c, out);
}

/// EXTENSION_NO_DELETE
pub(crate) fn extension_no_delete(p: &Side, c: &Side, out: &mut Findings) {
    no_delete_in_file("extension", |d| &d.extensions, p, c, out);
}

/// MESSAGE_NO_DELETE
pub(crate) fn message_no_delete(p: &Side, c: &Side, out: &mut Findings) {
    no_delete_in_file("message", |d| &d.messages, p, c, out);
}

/// SERVICE_NO_DELETE
pub(crate) fn service_no_delete(p: &Side, c: &Side, out: &mut Findings) {
    no_delete_in_file("service", |d| &d.services, p, c, out);
}

/// FILE_NO_DELETE
pub(crate) fn file_no_delete(previous: &Side, current: &Side, out: &mut Findings) {
    for name in previous.files.keys() {
        if !current.files.contains_key(name) {
            out.push(
                None,
                Some(Location::new(name.clone(), [])),
                format!("Previously present file \"{name}\" was deleted."),
            )
            .hint("keep the file (a moved file is a deletion plus an addition for generated code), or select the PACKAGE category if its contents moved within the package");
        }
    }
}

/// Files by package.
fn packages(side: &Side) -> BTreeMap<&str, Vec<&FileDescriptor>> {
    let mut out: BTreeMap<&str, Vec<&FileDescriptor>> = BTreeMap::new();
    for file in side.files.values() {
        out.entry(file.package_name()).or_default().push(file);
    }
    out
}

/// PACKAGE_NO_DELETE
pub(crate) fn package_no_delete(previous: &Side, current: &Side, out: &mut Findings) {
    let cur = packages(current);
    for (package, files) in packages(previous) {
        if !cur.contains_key(package) && !current.unchanged_packages.contains(package) {
            let first = files.iter().map(|f| f.name()).min().unwrap_or_default();
            out.push(
                None,
                Some(Location::new(first, [])),
                format!("Previously present package \"{package}\" was deleted."),
            )
            .hint(format!(
                "keep at least the files of package \"{package}\" that clients import"
            ));
        }
    }
}

/// Unlike buf, a package that still exists but lost its *last* element of a kind is reported
/// too: buf only looks into packages that still hold at least one element of that kind.
fn package_no_delete_kind(
    kind: &str,
    pick: fn(&Declared) -> &BTreeMap<String, Location>,
    previous: &Side,
    current: &Side,
    out: &mut Findings,
) {
    let cur_packages = packages(current);
    for (package, files) in packages(previous) {
        let cur_files = match cur_packages.get(package) {
            Some(files) => files.as_slice(),
            // Only unchanged files left: none can hold what changed files lost.
            None if current.unchanged_packages.contains(package) => &[],
            None => continue, // the whole package is gone: PACKAGE_NO_DELETE
        };
        let cur_names: BTreeSet<&String> = cur_files
            .iter()
            .filter_map(|f| current.declared(f.name()))
            .flat_map(|d| pick(d).keys())
            .collect();
        for file in files {
            let Some(prev_declared) = previous.declared(file.name()) else {
                continue;
            };
            for (name, prev_loc) in pick(prev_declared) {
                if cur_names.contains(name) {
                    continue;
                }
                let current_loc = current
                    .files
                    .get(file.name())
                    .map(|f| deleted_element_loc(f, name));
                out.push(
                    current_loc,
                    Some(prev_loc.clone()),
                    format!("Previously present {kind} \"{name}\" was deleted from package \"{package}\"."),
                )
                .hint(format!("restore {kind} \"{name}\" in package \"{package}\" (any file of the package will do), and mark it deprecated"));
            }
        }
    }
}

/// PACKAGE_ENUM_NO_DELETE
pub(crate) fn package_enum_no_delete(p: &Side, c: &Side, out: &mut Findings) {
    package_no_delete_kind("enum", |d| &d.enums, p, c, out);
}

/// PACKAGE_EXTENSION_NO_DELETE
pub(crate) fn package_extension_no_delete(p: &Side, c: &Side, out: &mut Findings) {
    package_no_delete_kind("extension", |d| &d.extensions, p, c, out);
}

/// PACKAGE_MESSAGE_NO_DELETE
pub(crate) fn package_message_no_delete(p: &Side, c: &Side, out: &mut Findings) {
    package_no_delete_kind("message", |d| &d.messages, p, c, out);
}

/// PACKAGE_SERVICE_NO_DELETE
pub(crate) fn package_service_no_delete(p: &Side, c: &Side, out: &mut Findings) {
    package_no_delete_kind("service", |d| &d.services, p, c, out);
}

/// Quotes like Go's `%q`, as buf's messages do (`"Acme\\V1"`).
pub(crate) fn go_quote(text: &str) -> String {
    format!("{text:?}")
}

fn same_value(
    what: &str,
    previous: (&FileDescriptor, String, &[i32]),
    current: (&FileDescriptor, String, &[i32]),
    out: &mut Findings,
) {
    if previous.1 != current.1 {
        out.push(
            Some(loc(current.0, current.2)),
            Some(loc(previous.0, previous.2)),
            format!(
                "File {what} changed from {} to {}.",
                go_quote(&previous.1),
                go_quote(&current.1)
            ),
        )
        .hint(format!(
            "set {what} back to \"{}\"; generated code and its importers depend on it",
            previous.1
        ));
    }
}

/// FILE_SAME_PACKAGE
pub(crate) fn file_same_package(p: &FileDescriptor, c: &FileDescriptor, out: &mut Findings) {
    same_value(
        "package",
        (p, p.package_name().to_owned(), &[PACKAGE]),
        (c, c.package_name().to_owned(), &[PACKAGE]),
        out,
    );
}

fn syntax(file: &FileDescriptor) -> String {
    crate::schema::syntax(file).to_owned()
}

/// FILE_SAME_SYNTAX
pub(crate) fn file_same_syntax(p: &FileDescriptor, c: &FileDescriptor, out: &mut Findings) {
    same_value(
        "syntax",
        (p, syntax(p), &[SYNTAX]),
        (c, syntax(c), &[SYNTAX]),
        out,
    );
}

fn options(file: &FileDescriptor) -> FileOptions {
    file.file_descriptor_proto()
        .options
        .clone()
        .unwrap_or_default()
}

macro_rules! file_option_rule {
    ($(#[$doc:meta] $name:ident, $option:literal, $number:expr, |$o:ident| $get:expr;)*) => {$(
        #[$doc]
        pub(crate) fn $name(p: &FileDescriptor, c: &FileDescriptor, out: &mut Findings) {
            let value = |file: &FileDescriptor| {
                let $o = options(file);
                $get
            };
            same_value(
                concat!("option \"", $option, "\""),
                (p, value(p), &[OPTIONS, $number]),
                (c, value(c), &[OPTIONS, $number]),
                out,
            );
        }
    )*};
}

file_option_rule! {
    /// FILE_SAME_CC_ENABLE_ARENAS
    file_same_cc_enable_arenas, "cc_enable_arenas", 31, |o| o.cc_enable_arenas().to_string();
    /// FILE_SAME_CC_GENERIC_SERVICES
    file_same_cc_generic_services, "cc_generic_services", 16, |o| o.cc_generic_services().to_string();
    /// FILE_SAME_CSHARP_NAMESPACE
    file_same_csharp_namespace, "csharp_namespace", 37, |o| o.csharp_namespace().to_owned();
    /// FILE_SAME_GO_PACKAGE
    file_same_go_package, "go_package", 11, |o| o.go_package().to_owned();
    /// FILE_SAME_JAVA_GENERIC_SERVICES
    file_same_java_generic_services, "java_generic_services", 17, |o| o.java_generic_services().to_string();
    /// FILE_SAME_JAVA_MULTIPLE_FILES
    file_same_java_multiple_files, "java_multiple_files", 10, |o| o.java_multiple_files().to_string();
    /// FILE_SAME_JAVA_OUTER_CLASSNAME
    file_same_java_outer_classname, "java_outer_classname", 8, |o| o.java_outer_classname().to_owned();
    /// FILE_SAME_JAVA_PACKAGE
    file_same_java_package, "java_package", 1, |o| o.java_package().to_owned();
    /// FILE_SAME_JAVA_STRING_CHECK_UTF8 (deprecated)
    file_same_java_string_check_utf8, "java_string_check_utf8", 27, |o| o.java_string_check_utf8().to_string();
    /// FILE_SAME_OBJC_CLASS_PREFIX
    file_same_objc_class_prefix, "objc_class_prefix", 36, |o| o.objc_class_prefix().to_owned();
    /// FILE_SAME_OPTIMIZE_FOR
    file_same_optimize_for, "optimize_for", 9, |o| o.optimize_for().as_str_name().to_owned();
    /// FILE_SAME_PHP_CLASS_PREFIX
    file_same_php_class_prefix, "php_class_prefix", 40, |o| o.php_class_prefix().to_owned();
    /// FILE_SAME_PHP_GENERIC_SERVICES (deprecated)
    file_same_php_generic_services, "php_generic_services", 42, |o| o.php_generic_services().to_string();
    /// FILE_SAME_PHP_METADATA_NAMESPACE
    file_same_php_metadata_namespace, "php_metadata_namespace", 44, |o| o.php_metadata_namespace().to_owned();
    /// FILE_SAME_PHP_NAMESPACE
    file_same_php_namespace, "php_namespace", 41, |o| o.php_namespace().to_owned();
    /// FILE_SAME_PY_GENERIC_SERVICES
    file_same_py_generic_services, "py_generic_services", 18, |o| o.py_generic_services().to_string();
    /// FILE_SAME_RUBY_PACKAGE
    file_same_ruby_package, "ruby_package", 45, |o| o.ruby_package().to_owned();
    /// FILE_SAME_SWIFT_PREFIX
    file_same_swift_prefix, "swift_prefix", 39, |o| o.swift_prefix().to_owned();
}
