//! What is measured: the rows of the table, the server processes they run against, and the
//! request each sends.

use std::{
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
};

use crate::{
    check::Expected,
    fixtures::{self, Files},
    server::Launch,
    wire,
};

/// The server processes. Each row runs against one fake and one reference process; a process
/// serves several rows and lives for the whole run, so its CPU counters are read around each
/// measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proc {
    /// `constant.yaml`: GetUser answers a constant reply.
    FakeConstant,
    /// `fixtures/users.yaml`, the bundled default: the unary rows.
    FakeBundled,
    /// The bundled default again, for the stream rows: a journal entry costs what its call
    /// sent, and the unary rows must not pay for evicting the streams' entries.
    FakeStreams,
    /// The bundled default plus one keyed GetUser stub.
    FakeOneStub,
    /// The bundled default plus 1,000 keyed GetUser stubs.
    FakeManyStubs,
    /// `kinds.yaml`: the error stub and the 100-message ListUsers stub.
    FakeKinds,
    /// The bundled default with the journal off (`--journal-size 0`); every other fake runs
    /// with the journal on, as `serve` does by default.
    FakeJournalOff,
    /// The reference, GetUser answering the constant reply.
    RefConstant,
    /// The reference answering what every other fixture answers.
    RefDefault,
}

impl Proc {
    pub fn name(self) -> &'static str {
        match self {
            Proc::FakeConstant => "fake-constant",
            Proc::FakeBundled => "fake-bundled",
            Proc::FakeStreams => "fake-streams",
            Proc::FakeOneStub => "fake-stubs-1",
            Proc::FakeManyStubs => "fake-stubs-1000",
            Proc::FakeKinds => "fake-kinds",
            Proc::FakeJournalOff => "fake-journal-off",
            Proc::RefConstant => "reference-constant",
            Proc::RefDefault => "reference-default",
        }
    }
}

/// Whether `grpc-double serve --help` offers `--journal-size` (0 turns the journal off).
pub fn has_journal_size(help: &str) -> bool {
    help.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with('-') && line.contains("--journal-size")
    })
}

/// The fake's log level: under `-q` every failed call is still a WARN line on stderr, and the
/// error row would measure writing those lines; the reference writes none.
const QUIET: (&str, &str) = ("RUST_LOG", "error");

/// Everything needed to start the processes.
#[derive(Debug)]
pub struct Setup {
    /// The grpc-double binary under test.
    pub fake: PathBuf,
    /// This bench binary, which is also the reference server.
    pub this: PathBuf,
    pub manifest_dir: PathBuf,
    pub files: Files,
    /// The binary has `--journal-size` (the journal-off row is skipped without it).
    pub journal_size: bool,
}

impl Setup {
    pub fn launch(&self, proc: Proc) -> Launch {
        let reference = |mode: &str| Launch {
            program: self.this.clone(),
            args: Vec::new(),
            env: Some((crate::reference::ENV, mode.to_owned())),
        };
        let bundled = self.manifest_dir.join("fixtures/users.yaml");
        let fixtures: Vec<&Path> = match proc {
            Proc::RefConstant => return reference("constant"),
            Proc::RefDefault => return reference("default"),
            Proc::FakeConstant => vec![&self.files.constant],
            Proc::FakeBundled | Proc::FakeStreams | Proc::FakeJournalOff => vec![&bundled],
            Proc::FakeOneStub => vec![&bundled, &self.files.one_stub],
            Proc::FakeManyStubs => vec![&bundled, &self.files.many_stubs],
            Proc::FakeKinds => vec![&self.files.kinds],
        };
        let mut args: Vec<OsString> = vec![
            "serve".into(),
            "-q".into(),
            "--proto".into(),
            self.manifest_dir.join("proto/users.proto").into(),
        ];
        for file in fixtures {
            args.push("--fixtures".into());
            args.push(file.into());
        }
        if proc == Proc::FakeJournalOff {
            args.push("--journal-size".into());
            args.push("0".into());
        }
        Launch {
            program: self.fake.clone(),
            args,
            env: Some((QUIET.0, QUIET.1.to_owned())),
        }
    }

    /// The bundled default as `grpc-double serve` with no arguments serves it (start-up rows).
    pub fn launch_default(&self) -> Launch {
        Launch {
            program: self.fake.clone(),
            args: vec!["serve".into(), "-q".into()],
            env: Some((QUIET.0, QUIET.1.to_owned())),
        }
    }

    /// The fake on a proto tree with no fixtures (start-up rows).
    pub fn launch_tree(&self, tree: &Path) -> Launch {
        Launch {
            program: self.fake.clone(),
            args: vec!["serve".into(), "-q".into(), "--proto".into(), tree.into()],
            env: Some((QUIET.0, QUIET.1.to_owned())),
        }
    }
}

/// How the load is made.
#[derive(Debug, Clone)]
pub enum Load {
    /// h2load replaying this body file.
    H2load(PathBuf),
    /// The Rust ping-pong Chat client.
    PingPong,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: &'static str,
    pub title: String,
    pub fake: Proc,
    pub reference: Proc,
    pub path: &'static str,
    pub body: Vec<u8>,
    pub expected: Expected,
    pub load: Load,
    /// Another row this one is compared with, and what to call the comparison.
    pub versus: Option<(&'static str, &'static str)>,
    /// Calls in the first warm-up run (sized up from there).
    pub warmup: u64,
}

const GET_USER: &str = "/userservice.UserService/GetUser";

/// Every row, in table order (the journal-off row too: the caller skips it when the binary has
/// no `--journal-size`). Body files go into `dir`.
pub fn all(dir: &Path) -> std::io::Result<Vec<Row>> {
    use fixtures::*;
    let unary = |id: &'static str, title: String, fake, reference, user_id: &str, expected| Row {
        id,
        title,
        fake,
        reference,
        path: GET_USER,
        body: wire::frame(&user_request(user_id)),
        expected,
        load: Load::H2load(PathBuf::new()),
        versus: None,
        warmup: 10_000,
    };
    let ok = |reply: &crate::userservice::UserResponse| Expected::ok(wire::frame(reply));
    let gone = gone_status();
    let mut rows = vec![
        unary(
            "unary-constant",
            "GetUser, constant reply (no `when`, pre-encoded)".into(),
            Proc::FakeConstant,
            Proc::RefConstant,
            CONSTANT_ID,
            ok(&constant_reply()),
        ),
        Row {
            versus: Some(("journal-off", "vs journal off")),
            ..unary(
                "unary-templated",
                "GetUser, bundled default (`user_id` templated; journal on, the default)".into(),
                Proc::FakeBundled,
                Proc::RefDefault,
                TEMPLATED_ID,
                ok(&templated_reply(TEMPLATED_ID)),
            )
        },
        unary(
            "journal-off",
            "GetUser, bundled default, `--journal-size 0`".into(),
            Proc::FakeJournalOff,
            Proc::RefDefault,
            TEMPLATED_ID,
            ok(&templated_reply(TEMPLATED_ID)),
        ),
        unary(
            "unary-error",
            "GetUser, NOT_FOUND with 2 details (keyed `when`)".into(),
            Proc::FakeKinds,
            Proc::RefDefault,
            GONE_ID,
            Expected {
                data: Vec::new(),
                grpc_status: GONE_CODE,
                grpc_message: Some(GONE_MESSAGE.into()),
                details: Some(prost::Message::encode_to_vec(&gone)),
            },
        ),
        unary(
            "stubs-1-miss",
            "GetUser, bundled + 1 keyed stub, falls through to the template".into(),
            Proc::FakeOneStub,
            Proc::RefDefault,
            TEMPLATED_ID,
            ok(&templated_reply(TEMPLATED_ID)),
        ),
        Row {
            versus: Some(("stubs-1-miss", "vs 1 stub")),
            ..unary(
                "stubs-1000-miss",
                format!("GetUser, bundled + {MANY_STUBS} keyed stubs, falls through"),
                Proc::FakeManyStubs,
                Proc::RefDefault,
                TEMPLATED_ID,
                ok(&templated_reply(TEMPLATED_ID)),
            )
        },
        unary(
            "stubs-1-hit",
            format!(
                "GetUser, bundled + 1 keyed stub, hits it (`{}`)",
                keyed_id(0)
            ),
            Proc::FakeOneStub,
            Proc::RefDefault,
            &keyed_id(0),
            ok(&numbered_user(&keyed_id(0), 0)),
        ),
        Row {
            versus: Some(("stubs-1-hit", "vs 1 stub")),
            ..unary(
                "stubs-1000-hit",
                format!(
                    "GetUser, bundled + {MANY_STUBS} keyed stubs, hits the last (`{}`)",
                    keyed_id(MANY_STUBS - 1)
                ),
                Proc::FakeManyStubs,
                Proc::RefDefault,
                &keyed_id(MANY_STUBS - 1),
                ok(&numbered_user(&keyed_id(MANY_STUBS - 1), MANY_STUBS - 1)),
            )
        },
        Row {
            id: "list-100",
            title: format!("ListUsers, {LIST_MESSAGES} messages (server stream)"),
            fake: Proc::FakeKinds,
            reference: Proc::RefDefault,
            path: "/userservice.UserService/ListUsers",
            body: wire::frame(&list_request()),
            expected: Expected::ok(wire::frames(&list_reply())),
            load: Load::H2load(PathBuf::new()),
            versus: None,
            warmup: 1000,
        },
        Row {
            id: "create-100",
            title: format!("CreateUsers, {CREATE_FRAMES} frames (client stream, bundled)"),
            fake: Proc::FakeStreams,
            reference: Proc::RefDefault,
            path: "/userservice.UserService/CreateUsers",
            body: wire::frames(&create_requests()),
            expected: Expected::ok(wire::frame(&create_summary(&create_requests()))),
            load: Load::H2load(PathBuf::new()),
            versus: None,
            warmup: 2000,
        },
        Row {
            id: "chat-batched",
            title: format!("Chat, {CHAT_MESSAGES} messages sent at once (bidi, bundled)"),
            fake: Proc::FakeStreams,
            reference: Proc::RefDefault,
            path: "/userservice.UserService/Chat",
            body: wire::frames(&chat_requests()),
            expected: Expected::ok(
                chat_requests()
                    .iter()
                    .flat_map(|m| wire::frame(&chat_reply(m)))
                    .collect(),
            ),
            load: Load::H2load(PathBuf::new()),
            versus: None,
            warmup: 3000,
        },
        Row {
            id: "chat-pingpong",
            title: format!("Chat, {CHAT_MESSAGES} messages ping-pong (bidi, bundled)"),
            fake: Proc::FakeStreams,
            reference: Proc::RefDefault,
            path: "/userservice.UserService/Chat",
            body: Vec::new(),
            expected: Expected::ok(Vec::new()),
            load: Load::PingPong,
            versus: None,
            warmup: 1500,
        },
    ];
    for row in &mut rows {
        if let Load::H2load(path) = &mut row.load {
            *path = dir.join(format!("{}.bin", row.id));
            fs::write(&*path, &row.body)?;
        }
    }
    Ok(rows)
}
