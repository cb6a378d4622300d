//! The real `palisade serve` as a child process: a folder with fresh
//! certificates, keys and a config, the child's stderr lines, its port,
//! and clients with tokens minted for it. Every wait is bounded by `STEP`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use palisade::auth::{self, TokenRequest};
use palisade::client::{Client, Connect};
use palisade::protocol::{Role, ServerFrame};

use super::{bounded, frame, now, AUDIENCE, STEP};

/// A folder `palisade serve` can run from: `palisade.toml` with `extra`
/// appended (e.g. a `[storage]` or `[limits]` table).
pub fn serve_dir(name: &str, extra: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-bin-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    palisade::certgen::write_dev_pki(&dir).unwrap();
    auth::write_keypair(&dir).unwrap();
    let config = format!(
        "listen = \"127.0.0.1:0\"\n[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\n\
         [auth]\npublic_keys = [\"token.public\"]\naudience = \"{AUDIENCE}\"\n{extra}"
    );
    std::fs::write(dir.join("palisade.toml"), config).unwrap();
    dir
}

/// A running `palisade serve` and its stderr lines.
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    /// Lines `wait_for` read, in order.
    read: std::cell::RefCell<Vec<String>>,
    pub port: u16,
}

/// Starts `palisade serve` on `dir`'s config without waiting for it.
pub fn spawn_serve(dir: &Path) -> (Child, mpsc::Receiver<String>) {
    spawn_serve_logging(dir, "info")
}

/// [`spawn_serve`] with `RUST_LOG` set to `rust_log`.
fn spawn_serve_logging(dir: &Path, rust_log: &str) -> (Child, mpsc::Receiver<String>) {
    let mut child = super::cli::bin()
        .args(["serve", "--config"])
        .arg(dir.join("palisade.toml"))
        .env("RUST_LOG", rust_log)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = super::child::lines_of(child.stderr.take().unwrap());
    (child, lines)
}

impl Running {
    /// Starts the server and waits until it listens.
    pub fn start(dir: &Path) -> Self {
        Self::start_logging(dir, "info")
    }

    /// [`Running::start`] with `RUST_LOG` set to `rust_log`.
    pub fn start_logging(dir: &Path, rust_log: &str) -> Self {
        let (child, lines) = spawn_serve_logging(dir, rust_log);
        let mut running = Self {
            child,
            lines,
            read: std::cell::RefCell::default(),
            port: 0,
        };
        let line = running.wait_for("(wss)");
        let addr = line.split("listening on ").nth(1).unwrap();
        let addr = addr.split_whitespace().next().unwrap();
        running.port = addr.rsplit(':').next().unwrap().parse().unwrap();
        running
    }

    /// The first stderr line containing `needle`, within the test bound.
    pub fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!("no stderr line containing {needle:?}");
            });
            self.read.borrow_mut().push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Every stderr line not read yet, up to the end of the output (call
    /// it after the process exited).
    pub fn rest(&self) -> Vec<String> {
        self.lines.iter().collect()
    }

    /// Every stderr line from the start (call it after the process exited).
    pub fn all_lines(&self) -> Vec<String> {
        let mut all = self.read.borrow().clone();
        all.extend(self.rest());
        all
    }

    /// Sends the signal called `name` (`TERM`, `HUP`, `KILL`).
    pub fn signal(&self, name: &str) {
        signal(self.child.id(), name);
    }

    /// `kill -9`, and waits until the process is gone.
    pub fn kill9(&mut self) {
        self.signal("KILL");
        let status = self.wait_exit();
        assert!(status.code().is_none(), "killed, not exited: {status:?}");
    }

    /// Waits for the process to exit, within the test bound.
    pub fn wait_exit(&mut self) -> ExitStatus {
        wait_exit(&mut self.child)
    }

    /// A client of `sub` with `role` in every room, past its `Welcome`.
    pub async fn connect(&self, dir: &Path, sub: &str, role: Role) -> Client {
        connect(dir, self.port, sub, role).await
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends the signal called `name` to process `pid`.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for `child` to exit, within the test bound.
pub fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + STEP;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A token for `sub` with `role` in every room, minted with `dir`'s key.
pub fn token(dir: &Path, sub: &str, role: Role, ttl_secs: u64) -> String {
    let secret = auth::load_secret_key_file(&dir.join("token.secret")).unwrap();
    let request = TokenRequest::new(sub, role, ["*"], ttl_secs, AUDIENCE);
    auth::mint(&secret, &request, now()).unwrap()
}

/// A client of `sub` with `role` in every room of the server on `port`.
pub async fn connect(dir: &Path, port: u16, sub: &str, role: Role) -> Client {
    connect_with(dir, port, &token(dir, sub, role, 600)).await
}

/// A client presenting `token` to the server on `port`, past its `Welcome`.
pub async fn connect_with(dir: &Path, port: u16, token: &str) -> Client {
    let tls = palisade::tls::client_config(&dir.join("ca.pem")).unwrap();
    let url = format!("wss://localhost:{port}/ws");
    let mut client = bounded(Client::connect(Connect::new(&url, tls, token)))
        .await
        .unwrap();
    assert!(matches!(
        frame(&mut client).await,
        ServerFrame::Welcome { .. }
    ));
    client
}
