//! What the crash tests share: the `inbox` example as a server process,
//! SIGKILLed and started again on the same port, each incarnation's stdout
//! in a file of its own; and the `handled <id> attempt=<n>` lines it prints
//! per successful run.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The example binary, next to this test's own directory; `features` is
/// what to build it with when it is missing.
pub(crate) fn example_binary(features: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    let binary = profile
        .join("examples")
        .join(format!("inbox{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo build --example inbox --features {features}` first",
        binary.display()
    );
    binary
}

/// A port of 127.0.0.1 free a moment ago.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("a bound address").port()
}

/// A fresh directory named after `test`, for the inbox and the servers'
/// outputs.
pub(crate) fn temp_dir(test: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "actix-webhook-{test}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// The example as a server process, started again after each kill. Each
/// incarnation writes its stdout to a file of its own (in append mode), so
/// that no line is lost when it is killed and each line is known to come
/// from it.
pub(crate) struct Server {
    binary: PathBuf,
    dir: PathBuf,
    /// Before the names of its output files, so that several servers may
    /// share `dir`.
    name: String,
    /// The example's settings (`INBOX`, `LEASE_SECS`, ...).
    env: Vec<(String, OsString)>,
    pub(crate) addr: SocketAddr,
    child: Option<Child>,
    pub(crate) started: Instant,
    /// The stdout file of each incarnation, in order.
    pub(crate) outputs: Vec<PathBuf>,
}

impl Server {
    /// A server on `port`, not started, named `name` (may be empty) in
    /// `dir`, with `env` set for it.
    pub(crate) fn new(
        binary: PathBuf,
        dir: &Path,
        name: &str,
        port: u16,
        env: &[(&str, OsString)],
    ) -> Self {
        Self {
            binary,
            dir: dir.to_owned(),
            name: name.to_owned(),
            env: env
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone()))
                .collect(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child: None,
            started: Instant::now(),
            outputs: Vec::new(),
        }
    }

    /// Starts an incarnation and waits until it listens. One that exits at
    /// once (its port not yet free again) is started again.
    pub(crate) fn start(&mut self) {
        assert!(self.child.is_none(), "a server is already running");
        for _ in 0..20 {
            let n = self.outputs.len();
            let stdout = self.dir.join(format!("{}stdout-{n}.txt", self.name));
            let stderr = self.dir.join(format!("{}stderr-{n}.txt", self.name));
            let out = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&stdout)
                .expect("the server's stdout file");
            let err = File::create(&stderr).expect("the server's stderr file");
            let mut child = Command::new(&self.binary)
                .envs(self.env.iter().map(|(name, value)| (name, value)))
                // The example's switches for load tests: a line per run,
                // in inbox mode, synced commits.
                .env_remove("QUIET")
                .env_remove("INLINE")
                .env_remove("UNSYNCED")
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("the inbox example starts");
            self.outputs.push(stdout);
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    eprintln!(
                        "incarnation {n} exited at start ({status}); see {}",
                        stderr.display()
                    );
                    thread::sleep(Duration::from_millis(100));
                    break;
                }
                if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() {
                    self.child = Some(child);
                    self.started = Instant::now();
                    return;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "incarnation {n} did not listen within 10 s; see {}",
                        stderr.display()
                    );
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        panic!(
            "the server exited at start 20 times; see the stderr files in {}",
            self.dir.display()
        );
    }

    /// SIGKILLs the running incarnation (`Child::kill` on Unix) and reaps it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One successful run, as the example printed it.
#[derive(Debug)]
pub(crate) struct Handled {
    /// The incarnation that printed it.
    pub(crate) incarnation: usize,
    pub(crate) id: String,
    pub(crate) attempt: u32,
}

/// Every `handled <id> attempt=<n>` line printed so far. Each line is one
/// `write` to a file, so a kill cannot leave half of one.
pub(crate) fn handled(outputs: &[PathBuf]) -> Vec<Handled> {
    let mut lines = Vec::new();
    for (incarnation, path) in outputs.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let parsed = line.strip_prefix("handled ").and_then(|rest| {
                let (id, attempt) = rest.split_once(" attempt=")?;
                Some((id.to_owned(), attempt.parse().ok()?))
            });
            let (id, attempt) =
                parsed.unwrap_or_else(|| panic!("incarnation {incarnation} printed {line:?}"));
            lines.push(Handled {
                incarnation,
                id,
                attempt,
            });
        }
    }
    lines
}

/// The ids with a successful run so far.
pub(crate) fn handled_ids(outputs: &[PathBuf]) -> HashSet<String> {
    handled(outputs).into_iter().map(|line| line.id).collect()
}
