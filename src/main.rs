//! The `palisade` command: `serve`, `check-config`, `demo`, `keygen`, `token`.
//!
//! `serve` reloads certificates, keys and origins on SIGHUP and drains on
//! SIGTERM or SIGINT (sessions get their queues and a 1001, bounded by
//! `limits.shutdown_timeout_s`), then exits 0.
//!
//! A thin user of the library (mini-redis style): it parses arguments,
//! sets up logging and calls into `palisade`. Any start-up problem is one
//! line on stderr and exit code 2.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use async_signal::{Signal, Signals};
use futures_util::StreamExt;
use lexopt::prelude::*;
use palisade::auth::{self, MintError, TokenRequest};
use palisade::config::Config;
use palisade::protocol::Role;
use palisade::server::{DiskBound, Server};
use smol::future::FutureExt;

const USAGE: &str = "\
usage:
  palisade serve --config FILE
  palisade check-config --config FILE
  palisade demo [--dir DIR] [--port PORT] [--host NAME_OR_IP] [--cluster]
  palisade keygen --out DIR
  palisade token --key FILE --sub S --role observer|member|admin --rooms a,b*
                 --ttl DURATION [--aud A] [--iss I]

serve          runs the server the config describes
check-config   loads everything serve would, prints the memory bound and
               any warnings, and exits (2 on a problem)
demo           makes a folder with a CA, certificate, keys, config and tokens,
               then serves it; --host also serves NAME_OR_IP to other machines
               (certificate names it, listens on all interfaces); --cluster
               starts a local redis-server and two nodes (PORT and PORT+1)
keygen         writes a token key pair
token          mints a token; --ttl takes seconds (3600) or 30m, 8h, 2d

Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more.
Signals (serve, demo): SIGHUP reloads certificates, keys and origins;
SIGTERM/SIGINT drain and exit 0.";

/// 9999-12-31T23:59:59Z: the last expiry a token's RFC 3339 `exp` can hold.
const LAST_EXPIRY: u64 = 253_402_300_799;

/// A start-up failure: printed as one line, exit code 2.
struct Fail(String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.to_string())
    }
}

/// Crates that see tokens or message bodies in the clear (tungstenite's
/// trace lines carry whole frames, `Reauth` tokens included). Their records
/// above [`PLAINTEXT_CAP`] are dropped whatever `RUST_LOG` says, so the
/// README's promise holds at every level: no log line carries a token or a
/// body.
const PLAINTEXT_CRATES: [&str; 4] = [
    "tungstenite",
    "async_tungstenite",
    "rustls",
    "futures_rustls",
];

/// The most verbose level a [`PLAINTEXT_CRATES`] record may have.
const PLAINTEXT_CAP: log::Level = log::Level::Info;

/// env_logger behind a filter no `RUST_LOG` directive can widen (a
/// `filter_module` cap alone would lose to a more specific directive such
/// as `tungstenite::protocol=trace`).
struct Capped(env_logger::Logger);

impl Capped {
    fn allows(metadata: &log::Metadata<'_>) -> bool {
        let target = metadata.target();
        let plaintext = PLAINTEXT_CRATES.iter().any(|c| {
            target
                .strip_prefix(c)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        });
        !plaintext || metadata.level() <= PLAINTEXT_CAP
    }
}

impl log::Log for Capped {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        Self::allows(metadata) && self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if Self::allows(record.metadata()) {
            self.0.log(record);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

fn init_logging() {
    let logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).build();
    log::set_max_level(logger.filter());
    // Fails only if a logger is already set, which nothing here does.
    let _ = log::set_boxed_logger(Box::new(Capped(logger)));
}

fn main() -> ExitCode {
    init_logging();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(msg)) => {
            eprintln!("palisade: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Fail> {
    let mut args = lexopt::Parser::from_env();
    let command = match args.next()? {
        Some(Value(cmd)) => cmd.string()?,
        Some(Long("help") | Short('h')) | None => {
            println!("{USAGE}");
            return Ok(());
        }
        Some(other) => return Err(Fail(format!("{}\n{USAGE}", other.unexpected()))),
    };
    match command.as_str() {
        "serve" => serve(&mut args),
        "check-config" => check_config(&mut args),
        "demo" => demo(&mut args),
        "keygen" => keygen(&mut args),
        "token" => token(&mut args),
        other => Err(Fail(format!("unknown command {other:?}\n{USAGE}"))),
    }
}

/// The `--config FILE` of `serve` and `check-config`; `None` after `--help`.
fn config_arg(args: &mut lexopt::Parser, command: &str) -> Result<Option<PathBuf>, Fail> {
    let mut config_path: Option<PathBuf> = None;
    while let Some(arg) = args.next()? {
        match arg {
            Long("config") | Short('c') => config_path = Some(args.value()?.into()),
            Long("help") | Short('h') => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(Fail(format!("{command}: {}\n{USAGE}", other.unexpected()))),
        }
    }
    config_path
        .map(Some)
        .ok_or_else(|| Fail(format!("{command} needs --config FILE")))
}

fn serve(args: &mut lexopt::Parser) -> Result<(), Fail> {
    let Some(path) = config_arg(args, "serve")? else {
        return Ok(());
    };
    let mut config = Config::from_file(&path)?;
    config.storage_or_file(&path);
    let listeners = bind(&config, &format!("change `listen` in {}", path.display()))?;
    run_server(&config, &path, listeners)
}

/// Loads everything `serve` would (certificates, keys, the memory budget)
/// and prints one line, plus a `warning:` line per problem found that does
/// not stop `serve`; errors exit 2 like `serve`'s.
fn check_config(args: &mut lexopt::Parser) -> Result<(), Fail> {
    let Some(path) = config_arg(args, "check-config")? else {
        return Ok(());
    };
    let mut config = Config::from_file(&path)?;
    config.storage_or_file(&path);
    for warning in preflight(&config)? {
        println!("warning: {}: {warning}", path.display());
    }
    let bound = Server::check(&config)?;
    let disk = DiskBound::for_config(&config).map_or_else(String::new, |d| format!("; {d}"));
    println!("ok: {}: {bound}{disk}", path.display());
    Ok(())
}

/// What `serve` and `check-config` both check before starting: an expired
/// certificate stops them; the warnings are returned.
fn preflight(config: &Config) -> Result<Vec<String>, Fail> {
    let mut warnings: Vec<String> = palisade::startup::certificate(config)?
        .into_iter()
        .collect();
    warnings.extend(config.limits.incoherences());
    Ok(warnings)
}

/// The bound listeners (WebSocket, metrics), before anything is printed
/// that says the server is up. `hint` says how to pick another port.
fn bind(config: &Config, hint: &str) -> Result<Listeners, Fail> {
    let bind = |addr: std::net::SocketAddr, what: &str| {
        smol::block_on(smol::net::TcpListener::bind(addr)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                Fail(format!("cannot listen on {addr}{what}: the address is in use (another server has the port); {hint}"))
            } else {
                Fail(format!("cannot listen on {addr}{what}: {e}"))
            }
        })
    };
    Ok(Listeners {
        main: bind(config.listen, "")?,
        metrics: match &config.metrics {
            Some(m) => Some(bind(m.listen, " (metrics)")?),
            None => None,
        },
    })
}

struct Listeners {
    main: smol::net::TcpListener,
    metrics: Option<smol::net::TcpListener>,
}

fn run_server(config: &Config, path: &Path, listeners: Listeners) -> Result<(), Fail> {
    for warning in preflight(config)? {
        log::warn!("{}: {warning}", path.display());
    }
    let server = Server::new(config)?;
    let mut signals = Signals::new([Signal::Hup, Signal::Term, Signal::Int])
        .map_err(|e| Fail(format!("cannot install signal handlers: {e}")))?;
    let Listeners {
        main: listener,
        metrics,
    } = listeners;
    // The accept loop runs as a task on smol's executor, beside the
    // sessions it spawns: a new connection's task is queued on the thread
    // that accepted it, and that thread also polls for its I/O. This
    // thread only waits for signals, with a `block_on` that never polls
    // I/O itself (smol's would, and would then hand every event of every
    // connection over to the executor's thread: two context switches each,
    // BENCHMARKS.md "What each change bought").
    let (stop, stopped) = smol::channel::bounded::<()>(1);
    let serving = {
        let server = server.clone();
        smol::spawn(async move {
            let shutdown = async move {
                let _ = stopped.recv().await;
            };
            let metrics = async {
                match metrics {
                    Some(listener) => server.serve_metrics(listener).await,
                    None => std::future::pending().await,
                }
            };
            server.run(listener, shutdown).or(metrics).await
        })
    };
    smol::future::block_on(async {
        // SIGTERM/SIGINT start the drain; SIGHUP reloads and keeps waiting.
        let signalled = async {
            while let Some(signal) = signals.next().await {
                match signal {
                    Ok(Signal::Hup) => {
                        log::info!("SIGHUP: reloading {}", path.display());
                        let _ = server.reload_file(path);
                    }
                    Ok(other) => {
                        log::info!("{other:?}: draining");
                        break;
                    }
                    Err(e) => log::warn!("signal stream: {e}"),
                }
            }
            let _ = stop.try_send(());
            std::future::pending::<std::io::Result<()>>().await
        };
        serving
            .or(signalled)
            .await
            .map_err(|e| Fail(format!("listener failed: {e}")))?;
        log::info!("stopped");
        Ok(())
    })
}

fn demo(args: &mut lexopt::Parser) -> Result<(), Fail> {
    let mut dir = PathBuf::from("palisade-demo");
    let mut reach = palisade::demo::Reach::local(8443);
    let mut cluster = false;
    while let Some(arg) = args.next()? {
        match arg {
            Long("dir") => dir = args.value()?.into(),
            Long("cluster") => cluster = true,
            Long("port") => {
                let v = args.value()?.string()?;
                reach.port = v.parse().map_err(|_| {
                    Fail(format!("--port: '{v}' is not a port number (1 to 65535)"))
                })?;
            }
            Long("host") => reach.host = Some(args.value()?.string()?),
            Long("help") | Short('h') => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(Fail(format!("demo: {}\n{USAGE}", other.unexpected()))),
        }
    }
    let demo = palisade::demo::prepare_for(&dir, &reach)?;
    if cluster {
        return cluster_demo(&demo);
    }
    // Bind first: the instructions say the server listens, so it must.
    let listeners = bind(&demo.config, "pick another port with --port PORT")?;
    println!("{}", demo.instructions());
    run_server(&demo.config, &demo.dir.join("palisade.toml"), listeners)
}

/// `demo --cluster`: a throwaway redis-server (killed on exit) and two
/// nodes; the second runs on its own thread until the first stops.
#[cfg(feature = "cluster")]
fn cluster_demo(demo: &palisade::demo::Demo) -> Result<(), Fail> {
    let redis = palisade::cluster::local::LocalRedis::start(&demo.dir, None)?;
    let [a, b] = palisade::demo::cluster_nodes(demo, &redis.url());
    let hint = "pick another port with --port PORT (the demo uses it and the next)";
    let (listeners_a, listeners_b) = (bind(&a, hint)?, bind(&b, hint)?);
    let second = Server::new(&b)?;
    let (stop, stopped) = smol::channel::bounded::<()>(1);
    let node_b = std::thread::spawn(move || {
        let shutdown = async move {
            let _ = stopped.recv().await;
        };
        smol::block_on(second.run(listeners_b.main, shutdown))
    });
    println!("{}", demo.cluster_instructions(&redis.url()));
    let result = run_server(&a, &demo.dir.join("palisade.toml"), listeners_a);
    let _ = stop.try_send(());
    let _ = node_b.join();
    drop(redis);
    result
}

#[cfg(not(feature = "cluster"))]
fn cluster_demo(_: &palisade::demo::Demo) -> Result<(), Fail> {
    Err(Fail(
        "demo --cluster needs palisade built with the `cluster` feature".into(),
    ))
}

/// `--ttl`: seconds, or a number with `s`, `m`, `h` or `d`.
fn parse_ttl(v: &str) -> Result<u64, Fail> {
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => v.split_at(at),
        None => (v, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    digits
        .parse::<u64>()
        .ok()
        .filter(|_| scale > 0)
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| Fail(format!("--ttl: '{v}' is not a lifetime; give seconds (3600) or a number with s, m, h or d (8h)")))
}

fn keygen(args: &mut lexopt::Parser) -> Result<(), Fail> {
    let mut out: Option<PathBuf> = None;
    while let Some(arg) = args.next()? {
        match arg {
            Long("out") | Short('o') => out = Some(args.value()?.into()),
            other => return Err(other.unexpected().into()),
        }
    }
    let out = out.ok_or_else(|| Fail("keygen needs --out DIR".into()))?;
    let (secret, public) = auth::write_keypair(&out)?;
    println!(
        "wrote {} (keep it secret) and {}",
        secret.display(),
        public.display()
    );
    Ok(())
}

fn token(args: &mut lexopt::Parser) -> Result<(), Fail> {
    let (mut key, mut sub, mut role, mut rooms, mut ttl) = (None, None, None, None, None);
    let mut audience = palisade::demo::AUDIENCE.to_owned();
    let mut issuer = None;
    while let Some(arg) = args.next()? {
        match arg {
            Long("key") => key = Some(PathBuf::from(args.value()?)),
            Long("sub") => sub = Some(args.value()?.string()?),
            Long("role") => {
                let r = args.value()?.string()?;
                role = Some(Role::from_claim(&r).ok_or_else(|| {
                    Fail(format!(
                        "--role must be observer, member or admin, not {r:?}"
                    ))
                })?);
            }
            Long("rooms") => rooms = Some(args.value()?.string()?),
            Long("ttl") => ttl = Some(parse_ttl(&args.value()?.string()?)?),
            Long("aud") => audience = args.value()?.string()?,
            Long("iss") => issuer = Some(args.value()?.string()?),
            other => return Err(other.unexpected().into()),
        }
    }
    let missing = |name: &str| Fail(format!("token needs --{name}\n{USAGE}"));
    let key = auth::load_secret_key_file(&key.ok_or_else(|| missing("key"))?)?;
    let rooms = rooms.ok_or_else(|| missing("rooms"))?;
    let mut request = TokenRequest::new(
        sub.ok_or_else(|| missing("sub"))?,
        role.ok_or_else(|| missing("role"))?,
        rooms.split(',').map(str::trim).filter(|r| !r.is_empty()),
        ttl.ok_or_else(|| missing("ttl"))?,
        audience,
    );
    if let Some(issuer) = issuer {
        request = request.with_issuer(issuer);
    }
    let now = palisade::clock::unix_now();
    let token = auth::mint(&key, &request, now).map_err(|e| match e {
        MintError::BadPattern { index } => Fail(format!(
            "--rooms: '{}' is not a room pattern: give a room name (a-z, 0-9, '.', '_', '-', up to 32) or a prefix ending in * (team-*, or * for all)",
            request.rooms.get(index).map_or("", String::as_str)
        )),
        MintError::BadTtl => Fail(format!(
            "--ttl: a lifetime must be at least 1 s and end before the year 10000, so at most {} s from now",
            LAST_EXPIRY.saturating_sub(now)
        )),
        other => Fail(other.to_string()),
    })?;
    println!("{token}");
    Ok(())
}
