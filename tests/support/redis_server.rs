//! A real `redis-server` for tests ([`palisade::cluster::local`]), failing
//! loudly with the install hint when the binary is missing (the tests
//! that use it are `#[ignore = "needs redis-server ..."]`).

#![allow(dead_code, unreachable_pub)]

use palisade::cluster::local::LocalRedis;

/// One redis-server for one test.
pub struct RedisServer(LocalRedis);

impl RedisServer {
    /// Starts one on a free port.
    pub fn start() -> Self {
        Self::launch(None)
    }

    /// Starts one that requires `password`.
    pub fn with_password(password: &str) -> Self {
        Self::launch(Some(password))
    }

    fn launch(password: Option<&str>) -> Self {
        Self(LocalRedis::start(&std::env::temp_dir(), password).unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn url(&self) -> String {
        self.0.url()
    }

    /// One inline command's raw answer (CLIENT KILL, ZADD, ...).
    pub fn command(&self, line: &str) -> String {
        self.0.command(line)
    }

    /// Kills the server (like a crash: no save).
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.0.spawn().unwrap_or_else(|e| panic!("{e}"));
    }
}
