//! A real `redis-server` for tests: on 127.0.0.1 at a free port, in a
//! temporary directory; killed or shut down (saving) and restarted on the
//! same port at will, killed when dropped. Without automatic persistence
//! ([`RedisServer::start`]), or writing every change to its append-only
//! file before answering ([`RedisServer::start_persistent`]), as a
//! production inbox runs it.

// Each test that includes this file uses a part of it.
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to answer `PING` after starting.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` child process.
#[derive(Debug)]
pub(crate) struct RedisServer {
    port: u16,
    dir: PathBuf,
    /// `appendonly yes`, `appendfsync always`.
    persistent: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` at a free port and waits until it answers.
    ///
    /// # Panics
    ///
    /// When `redis-server` is not on `PATH` or does not start: these tests
    /// need a real Redis and must not pass without one.
    pub(crate) fn start() -> Self {
        Self::start_with(false)
    }

    /// Starts `redis-server` as [`start`](Self::start) does, with its
    /// append-only file on and synced before each answer (`appendonly yes`,
    /// `appendfsync always`): what it acknowledged survives a
    /// [`stop`](Self::stop) (SIGKILL), and [`restart`](Self::restart) loads
    /// it again.
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start).
    pub(crate) fn start_persistent() -> Self {
        Self::start_with(true)
    }

    fn start_with(persistent: bool) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port on 127.0.0.1")
            .port();
        let dir =
            std::env::temp_dir().join(format!("actix-webhook-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory for redis-server");
        let mut server = Self {
            port,
            dir,
            persistent,
            child: None,
        };
        server.launch();
        server
    }

    /// The URL to connect to it.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A connection of the test's own, for commands the code under test
    /// does not send (reading or damaging its keys). Not for the command
    /// line's tests, whose crate has no `redis` of its own.
    #[cfg(feature = "redis")]
    pub(crate) async fn connection(&self) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Kills the server (SIGKILL, as a crash would), keeping its port for
    /// [`restart`](Self::restart). Its data is lost, unless it was
    /// [started persistent](Self::start_persistent).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL ends a paused server too; resuming first is harmless.
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(child.id().to_string())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Shuts the server down the orderly way (`SHUTDOWN SAVE`), as an
    /// operator's restart of a persistent Redis: what it holds is written to
    /// its directory and loaded again by [`restart`](Self::restart).
    pub(crate) fn shutdown(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = stream.write_all(b"SHUTDOWN SAVE\r\n");
        }
        let started = Instant::now();
        while child.try_wait().ok().flatten().is_none() {
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Starts the server again on the same port (killing it first if it
    /// runs) and waits until it answers.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Freezes the server (`SIGSTOP`): connections stay open but nothing is
    /// answered, as with a hung Redis or a lost network.
    pub(crate) fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a [paused](Self::pause) server go on (`SIGCONT`).
    pub(crate) fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("redis-server is running");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("run `kill`");
        assert!(status.success(), "kill {signal} redis-server: {status}");
    }

    fn launch(&mut self) {
        let appendonly = if self.persistent { "yes" } else { "no" };
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", appendonly])
            .args(["--appendfsync", "always"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
                "`redis-server` is not on PATH; these tests need a real Redis: \
                 install it (Debian/Ubuntu: `apt-get install -y redis-server`)"
            ),
            Err(error) => panic!("cannot start redis-server: {error}"),
        };
        self.child = Some(child);
        let started = Instant::now();
        while !self.answers_ping() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("redis-server on port {} exited: {status}", self.port);
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "redis-server on port {} did not answer PING within {START_TIMEOUT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut answer = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
