//! A generated proto corpus of realistic shape for the breaking-checker benchmark: packages of
//! ten files that import a shared types file, each file with a documented service, messages with
//! scalar, repeated, map, enum, message and oneof fields, nested types, enums and file options.
//! The current tree is the previous one with a few breaking edits (about one file in 25).

use std::{fmt::Write as _, fs, io, path::Path};

/// Writes `<dir>/previous` and `<dir>/current` with `files` files each (plus the shared file).
pub fn generate(dir: &Path, files: usize) -> io::Result<()> {
    for side in ["previous", "current"] {
        let root = dir.join(side);
        if root.exists() {
            fs::remove_dir_all(&root)?;
        }
        fs::create_dir_all(root.join("acme/common/v1"))?;
        fs::write(root.join("acme/common/v1/types.proto"), COMMON)?;
        for i in 0..files {
            let package = format!("acme.svc{}.v1", i / 10);
            let path = root.join(format!("acme/svc{}/v1/file{i}.proto", i / 10));
            fs::create_dir_all(path.parent().expect("parent"))?;
            fs::write(path, file(i, &package, side == "current"))?;
        }
    }
    Ok(())
}

const COMMON: &str = r#"syntax = "proto3";

package acme.common.v1;

option go_package = "example.com/acme/common/v1;commonv1";

// A page of results.
message PageInfo {
  string next_page_token = 1;
  int32 total_size = 2;
}

// A point in time, with its zone.
message Stamp {
  int64 seconds = 1;
  int32 nanos = 2;
  string zone = 3;
}

enum Status {
  STATUS_UNSPECIFIED = 0;
  STATUS_ACTIVE = 1;
  STATUS_SUSPENDED = 2;
}
"#;

/// One file; `edited` applies this file's breaking edit, if it has one.
fn file(i: usize, package: &str, edited: bool) -> String {
    let edit = if edited && i % 25 == 7 {
        (i / 25) % 5 + 1
    } else {
        0
    };
    let mut s = String::new();
    let _ = writeln!(s, "syntax = \"proto3\";\n\npackage {package};\n");
    let _ = writeln!(s, "import \"acme/common/v1/types.proto\";\n");
    let _ = writeln!(
        s,
        "option go_package = \"example.com/acme/svc{}/v1;svcv1\";",
        i / 10
    );
    let _ = writeln!(s, "option java_package = \"com.acme.svc{}.v1\";", i / 10);
    let _ = writeln!(s, "option java_multiple_files = true;\n");
    let _ = writeln!(s, "// Serves the resources of file {i}.");
    let _ = writeln!(s, "service Service{i} {{");
    for (r, name) in ["Get", "List", "Create", "Update", "Delete"]
        .iter()
        .enumerate()
    {
        if edit == 3 && r == 4 {
            continue; // RPC deleted
        }
        let _ = writeln!(s, "  // {name}s a resource.");
        let stream = if edit == 4 && r == 1 { "stream " } else { "" };
        let _ = writeln!(
            s,
            "  rpc {name}Thing{i}({name}Thing{i}Request) returns ({stream}{name}Thing{i}Response);"
        );
    }
    let _ = writeln!(s, "}}\n");
    for name in ["Get", "List", "Create", "Update", "Delete"] {
        let _ = writeln!(
            s,
            "message {name}Thing{i}Request {{\n  string name = 1;\n  Thing{i} thing = 2;\n  int32 page_size = 3;\n  string page_token = 4;\n}}\n"
        );
        let _ = writeln!(
            s,
            "message {name}Thing{i}Response {{\n  repeated Thing{i} things = 1;\n  acme.common.v1.PageInfo page = 2;\n}}\n"
        );
    }
    let _ = writeln!(s, "// A thing with many kinds of fields.");
    let _ = writeln!(s, "message Thing{i} {{");
    let _ = writeln!(s, "  // The resource name.");
    let _ = writeln!(s, "  string name = 1;");
    if edit == 1 {
        let _ = writeln!(s, "  int64 count = 2;"); // type changed
    } else {
        let _ = writeln!(s, "  int32 count = 2;");
    }
    if edit != 2 {
        let _ = writeln!(s, "  string display_name = 3;"); // deleted by edit 2
    }
    let _ = writeln!(s, "  repeated string tags = 4;");
    let _ = writeln!(s, "  map<string, string> labels = 5;");
    let _ = writeln!(s, "  Kind{i} kind = 6;");
    let _ = writeln!(s, "  acme.common.v1.Stamp create_time = 7;");
    let _ = writeln!(s, "  acme.common.v1.Status status = 8;");
    let _ = writeln!(
        s,
        "  oneof source {{\n    string url = 9;\n    bytes blob = 10;\n  }}"
    );
    let _ = writeln!(s, "  optional double score = 11;");
    let _ = writeln!(s, "  Detail detail = 12;");
    let _ = writeln!(s, "  reserved 20 to 29;");
    let _ = writeln!(s, "  // Details kept apart.");
    let _ = writeln!(
        s,
        "  message Detail {{\n    string note = 1;\n    fixed64 checksum = 2;\n    repeated sint32 deltas = 3;\n  }}"
    );
    let _ = writeln!(s, "}}\n");
    let _ = writeln!(s, "enum Kind{i} {{");
    let _ = writeln!(s, "  KIND{i}_UNSPECIFIED = 0;");
    let _ = writeln!(s, "  KIND{i}_SMALL = 1;");
    if edit == 5 {
        let _ = writeln!(s, "  KIND{i}_MEDIUM = 2;\n  KIND{i}_HUGE = 3;"); // value renamed
    } else {
        let _ = writeln!(s, "  KIND{i}_MEDIUM = 2;\n  KIND{i}_LARGE = 3;");
    }
    let _ = writeln!(s, "}}");
    s
}
