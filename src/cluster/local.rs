//! A throwaway `redis-server` on a free loopback port, without
//! persistence, killed on drop: for `palisade demo --cluster` and the
//! tests. Never for production (nothing it holds survives it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long redis-server may take to answer its first PING.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// One running (or stopped) redis-server.
#[derive(Debug)]
pub struct LocalRedis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    password: Option<String>,
}

/// A port nothing listens on now: bind port 0, read it, release it.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl LocalRedis {
    /// Starts one on a free port, working in `dir`, requiring `password`
    /// when given; returns once it answers PING.
    ///
    /// # Errors
    /// A line saying why (redis-server missing: how to install it).
    pub fn start(dir: &Path, password: Option<&str>) -> Result<Self, String> {
        let port = free_port().map_err(|e| format!("no free loopback port: {e}"))?;
        let mut redis = Self {
            child: None,
            port,
            dir: dir.to_owned(),
            password: password.map(str::to_owned),
        };
        redis.spawn()?;
        Ok(redis)
    }

    /// Starts it again on the same port (empty: nothing was saved).
    ///
    /// # Errors
    /// As [`LocalRedis::start`].
    pub fn spawn(&mut self) -> Result<(), String> {
        self.stop();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = &self.password {
            cmd.args(["--requirepass", password]);
        }
        let child = cmd.spawn().map_err(|e| {
            format!("cannot start redis-server ({e}); install it: apt-get install redis-server")
        })?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if self.command("PING").contains("+PONG") {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!(
                    "redis-server on port {} exited at start: {status}",
                    self.port
                ));
            }
            // Polling a readiness condition, not sleeping as synchronisation.
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "redis-server on port {} did not answer PING in time",
            self.port
        ))
    }

    /// `redis://127.0.0.1:PORT/0` (without the password).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Sends one inline command (after AUTH when a password is set) and
    /// returns the raw answer; empty when the server cannot be reached.
    pub fn command(&self, line: &str) -> String {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut request = String::new();
        if let Some(password) = &self.password {
            request.push_str(&format!("AUTH {password}\r\n"));
        }
        request.push_str(&format!("{line}\r\nQUIT\r\n"));
        if s.write_all(request.as_bytes()).is_err() {
            return String::new();
        }
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    }

    /// Kills the server (like a crash: no save).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
