//! A real `redis-server` for tests: on a free loopback port, without
//! persistence, killed on drop. Panics with the install hint when the
//! binary is missing, so a test that needs it fails loudly (the tests
//! that use it are `#[ignore = "needs redis-server ..."]`).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long redis-server may take to answer its first PING.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// One running redis-server.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    password: Option<String>,
}

/// A port nothing listens on now: bind port 0, read it, release it.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

impl RedisServer {
    /// Starts one on a free port.
    pub fn start() -> Self {
        Self::launch(free_port(), None)
    }

    /// Starts one that requires `password`.
    pub fn with_password(password: &str) -> Self {
        Self::launch(free_port(), Some(password.to_owned()))
    }

    fn launch(port: u16, password: Option<String>) -> Self {
        let mut server = Self {
            child: None,
            port,
            password,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--dir", &std::env::temp_dir().display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = &self.password {
            cmd.args(["--requirepass", password]);
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start redis-server ({e}); install it: apt-get install redis-server")
        });
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "redis-server on port {} exited at start: {status}",
                    self.port
                );
            }
            // Polling a readiness condition, not sleeping as synchronisation.
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "redis-server on port {} did not answer PING in time",
            self.port
        );
    }

    /// True when the server answers PING (authenticating first if needed).
    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut request = String::new();
        if let Some(password) = &self.password {
            request.push_str(&format!("AUTH {password}\r\n"));
        }
        request.push_str("PING\r\n");
        if s.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut answer = Vec::new();
        let mut buf = [0; 64];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.windows(5).any(|w| w == b"+PONG") {
                return true;
            }
        }
        false
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sends one inline command, returning the raw answer (for tests that
    /// poke at Redis directly: CLIENT KILL, FLUSHALL, ...).
    pub fn command(&self, line: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis-server");
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        if let Some(password) = &self.password {
            s.write_all(format!("AUTH {password}\r\n").as_bytes())
                .expect("write");
        }
        s.write_all(format!("{line}\r\nQUIT\r\n").as_bytes())
            .expect("write");
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

    /// Starts it again on the same port (empty: nothing was saved).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
