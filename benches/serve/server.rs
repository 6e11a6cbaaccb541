//! Server processes: each started under `taskset` on the server core, found through its ready
//! file (never a fixed port), and stopped when dropped.

use std::{
    ffi::OsString,
    fs,
    io::{BufRead as _, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

/// How to start one server: the program and its arguments, before `--listen` and
/// `--ready-file`, which [`start`] adds.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Set for the reference server (this binary, re-executed).
    pub env: Option<(&'static str, String)>,
}

impl Launch {
    fn command(&self, cpu: usize) -> Command {
        let mut command = Command::new("taskset");
        command
            .arg("-c")
            .arg(cpu.to_string())
            .arg(&self.program)
            .args(&self.args);
        if let Some((key, value)) = &self.env {
            command.env(key, value);
        }
        command
    }
}

/// A running server; stopped (SIGTERM, then SIGKILL) on drop.
#[derive(Debug)]
pub struct Server {
    pub name: String,
    pub pid: u32,
    pub addr: SocketAddr,
    child: Child,
}

/// How long a server may take to write its ready file (thousands of protos take seconds).
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Starts `launch` pinned to `cpu` and waits for its ready file in `dir`.
pub fn start(name: &str, launch: &Launch, cpu: usize, dir: &Path) -> Result<Server, String> {
    let ready = dir.join(format!("{name}.ready"));
    let log = dir.join(format!("{name}.stderr"));
    let stderr = fs::File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let child = launch
        .command(cpu)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--ready-file")
        .arg(&ready)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("start {name} ({}): {e}", launch.program.display()))?;
    // taskset execs the program, so the child is the server itself.
    let pid = child.id();
    let mut server = Server {
        name: name.to_owned(),
        pid,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        child,
    };
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(addr) = read_ready_file(&ready, pid)? {
            server.addr = addr;
            return Ok(server);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!(
                "{name} exited ({status}) before it was ready: {}",
                fs::read_to_string(&log).unwrap_or_default().trim()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{name} wrote no ready file within {READY_TIMEOUT:?}"
            ));
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// The address in `{"grpc": ["127.0.0.1:PORT"], "pid": N}`, once the file is there.
fn read_ready_file(path: &Path, pid: u32) -> Result<Option<SocketAddr>, String> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(None);
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if value["pid"].as_u64() != Some(u64::from(pid)) {
        return Err(format!(
            "{}: pid {} is not the started process {pid}",
            path.display(),
            value["pid"]
        ));
    }
    value["grpc"][0]
        .as_str()
        .and_then(|a| a.parse().ok())
        .map(Some)
        .ok_or_else(|| format!("{}: no address in {text}", path.display()))
}

/// A server started for its start-up time: the address comes from the first line it prints
/// (`… listening on ADDR`), which is written the moment it listens.
#[derive(Debug)]
pub struct Fresh {
    pub server: Server,
    /// Just before the spawn.
    pub started_at: Instant,
}

pub fn start_fresh(name: &str, launch: &Launch, cpu: usize) -> Result<Fresh, String> {
    let started_at = Instant::now();
    let mut child = launch
        .command(cpu)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start {name}: {e}"))?;
    let pid = child.id();
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut server = Server {
        name: name.to_owned(),
        pid,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        child,
    };
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("read the stdout of {name}: {e}"))?;
    server.addr = line
        .split_whitespace()
        .last()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("{name} printed no address: {line:?}"))?;
    Ok(Fresh { server, started_at })
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of a child we started and have not reaped.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
