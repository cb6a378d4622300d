//! The node's connections to Redis and whether Redis is reachable.
//!
//! Commands share one multiplexed connection (Redis answers in order, so
//! one socket carries every task's requests). Every command has a
//! deadline: Redis unreachable means `Unavailable` within [`DEADLINE`],
//! never a hang. A connection that fails is dropped and made again by the
//! next command (at most one attempt at a time, each bounded too).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};
use smol::future::FutureExt;

use crate::server::lock::lock;

/// The longest any one Redis request may take, connecting included.
pub(crate) const DEADLINE: Duration = Duration::from_secs(2);

/// Redis could not carry out or confirm a request in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unavailable;

/// Runs `work` with the deadline; its error or the timeout become
/// `Err(Some(e))` / `Err(None)`.
pub(crate) async fn within<T>(
    work: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, Option<RedisError>> {
    async { work.await.map_err(Some) }
        .or(async {
            smol::Timer::after(DEADLINE).await;
            Err(None)
        })
        .await
}

/// Which connections are up; the alert goes out once per outage (when the
/// first one fails), the all-clear once when every one is back.
#[derive(Debug)]
pub(crate) struct Health {
    redis: String,
    commands: AtomicBool,
    pubsub: AtomicBool,
    down: Mutex<bool>,
}

/// The two connections a node keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path {
    Commands,
    PubSub,
}

impl Health {
    /// `redis` is the redacted URL, for the log lines.
    pub(crate) fn new(redis: String) -> Self {
        Self {
            redis,
            commands: AtomicBool::new(false),
            pubsub: AtomicBool::new(false),
            // Down until the first connection works; the first failure to
            // connect still raises the alert (`down` starts false).
            down: Mutex::new(false),
        }
    }

    /// True while both connections work: `palisade_cluster_up`.
    pub(crate) fn is_up(&self) -> bool {
        self.commands.load(Ordering::Acquire) && self.pubsub.load(Ordering::Acquire)
    }

    pub(crate) fn set(&self, path: Path, up: bool, why: &dyn std::fmt::Display) {
        let flag = match path {
            Path::Commands => &self.commands,
            Path::PubSub => &self.pubsub,
        };
        flag.store(up, Ordering::Release);
        let mut down = lock(&self.down);
        if !up && !*down {
            *down = true;
            log::warn!(
                "alert=cluster-unavailable redis={} error={why}: publishes answer Unavailable until it is back",
                self.redis
            );
        } else if up && *down && self.is_up() {
            *down = false;
            log::info!("cluster: redis={} reachable again", self.redis);
        }
    }
}

/// The command connection.
pub(crate) struct Link {
    client: Client,
    current: Mutex<Option<MultiplexedConnection>>,
    connecting: smol::lock::Mutex<()>,
    pub(crate) health: Health,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

impl Link {
    pub(crate) fn new(client: Client, redacted: String) -> Self {
        Self {
            client,
            current: Mutex::new(None),
            connecting: smol::lock::Mutex::new(()),
            health: Health::new(redacted),
        }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    async fn connection(&self) -> Result<MultiplexedConnection, Unavailable> {
        if let Some(c) = lock(&self.current).clone() {
            return Ok(c);
        }
        let _one = self.connecting.lock().await;
        if let Some(c) = lock(&self.current).clone() {
            return Ok(c);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(DEADLINE))
            .set_response_timeout(Some(DEADLINE));
        match within(
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        {
            Ok(c) => {
                *lock(&self.current) = Some(c.clone());
                self.health.set(Path::Commands, true, &"connected");
                Ok(c)
            }
            Err(e) => {
                self.failed(e.as_ref());
                Err(Unavailable)
            }
        }
    }

    fn failed(&self, e: Option<&RedisError>) {
        *lock(&self.current) = None;
        match e {
            Some(e) => self.health.set(Path::Commands, false, e),
            None => self.health.set(Path::Commands, false, &"no answer in time"),
        }
    }

    /// Runs one request on the command connection. A connection-level
    /// failure or a missed deadline drops the connection; a server error
    /// (for example OOM) leaves it. Either way the caller gets
    /// `Unavailable` and a log line says why.
    pub(crate) async fn run<T, F, Fut>(&self, what: &str, request: F) -> Result<T, Unavailable>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let conn = self.connection().await?;
        match within(request(conn)).await {
            Ok(v) => Ok(v),
            Err(Some(e))
                if !(e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || e.is_unrecoverable_error()) =>
            {
                log::warn!("cluster: redis refused {what}: {e}");
                Err(Unavailable)
            }
            Err(e) => {
                self.failed(e.as_ref());
                Err(Unavailable)
            }
        }
    }
}
