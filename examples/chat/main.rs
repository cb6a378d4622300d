//! A terminal chat client for palisade.
//!
//! ```text
//! cargo run --release -- demo              # in one shell: prints a token
//! cargo run --example chat -- --url wss://localhost:8443/ws \
//!     --ca palisade-demo/ca.pem --token v4.public.… --room lobby
//! ```
//!
//! Type a line to send it to the current room (the prompt shows it);
//! `/help` lists the commands. Text arrives as text: only characters a
//! terminal would act on (ESC, CR, ...) are shown as visible stand-ins.
//!
//! When the connection drops, the client reconnects with backoff and
//! resumes every joined room after the last message it saw
//! (`Join{since}`), saying so when messages were lost meanwhile. Lines are
//! published with `PublishOnce`: one whose receipt the connection took
//! with it is sent again with the same key and lands once.
//!
//! With `--passphrase P`, every room is sealed end to end (PROTOCOL.md
//! section 6). With `--cert FILE --key FILE`, the client presents a
//! certificate (for a server with `[tls] client_ca`, mutual TLS).

mod input;
mod link;
mod session;
mod text;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use palisade::client::{Client, Connect, Event};
use palisade::protocol::RoomName;
use smol::io::{AsyncBufReadExt, BufReader};
use smol::stream::StreamExt;

use session::{Action, Session};

const USAGE: &str = "\
usage: chat --url wss://HOST:PORT/ws --ca CA.pem --token TOKEN [options]

  --url URL          the server's WebSocket endpoint (its path is /ws)
  --ca FILE          the CA that signed the server's certificate
                     (palisade-demo/ca.pem for the demo)
  --token TOKEN      your token; --token-file FILE reads it from FILE
  --room ROOM        join ROOM on connect (repeatable); the first is current
  --passphrase P     seal every room end to end with P
  --cert FILE --key FILE
                     present a client certificate (mutual TLS)
  --help             this text

Commands, once connected:
";

struct Args {
    url: String,
    ca: PathBuf,
    token: String,
    rooms: Vec<RoomName>,
    passphrase: Option<String>,
    cert: Option<(PathBuf, PathBuf)>,
}

fn parse_args() -> Result<Args, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let (mut url, mut ca, mut token, mut rooms) = (None, None, None, Vec::new());
    let (mut passphrase, mut cert, mut key) = (None, None, None);
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("help") | Short('h') => {
                println!("{USAGE}{}", input::COMMANDS);
                std::process::exit(0);
            }
            Long("url") => url = Some(value(&mut parser)?),
            Long("ca") => ca = Some(PathBuf::from(value(&mut parser)?)),
            Long("token") => token = Some(value(&mut parser)?),
            Long("token-file") => {
                let path = value(&mut parser)?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("--token-file: cannot read {path}: {e}"))?;
                token = Some(text.trim().to_owned());
            }
            Long("passphrase") => passphrase = Some(value(&mut parser)?),
            Long("cert") => cert = Some(PathBuf::from(value(&mut parser)?)),
            Long("key") => key = Some(PathBuf::from(value(&mut parser)?)),
            Long("room") => {
                let name = value(&mut parser)?;
                rooms.push(RoomName::new(&name).map_err(|_| {
                    format!(
                        "--room: '{name}' is not a room name (1 to 32 of a-z, 0-9, '.', '_', '-')"
                    )
                })?);
            }
            other => return Err(format!("{}; --help lists the options", other.unexpected())),
        }
    }
    let need = |what: &str| format!("{what} is required; --help lists the options");
    Ok(Args {
        url: url.ok_or_else(|| need("--url"))?,
        ca: ca.ok_or_else(|| need("--ca"))?,
        token: token.ok_or_else(|| need("--token (or --token-file)"))?,
        rooms,
        passphrase,
        cert: match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("--cert and --key go together".into()),
        },
    })
}

fn value(parser: &mut lexopt::Parser) -> Result<String, String> {
    let v = parser.value().map_err(|e| e.to_string())?;
    v.into_string()
        .map_err(|v| format!("not UTF-8: {}", v.to_string_lossy()))
}

fn fail(message: &str) -> ! {
    eprintln!("chat: {message}");
    std::process::exit(1);
}

/// Why a connection ended.
enum End {
    Quit,
    /// Lost; reconnecting may help when `retry`.
    Lost {
        why: String,
        retry: bool,
    },
}

enum Input {
    Line(Option<String>),
    Server(Result<Event, palisade::client::ClientError>),
}

type Lines = smol::io::Lines<BufReader<smol::Unblock<std::io::Stdin>>>;

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("chat: {e}");
        std::process::exit(2);
    });
    let tls = match &args.cert {
        Some((cert, key)) => palisade::tls::client_config_with_cert(&args.ca, cert, key),
        None => palisade::tls::client_config(&args.ca),
    };
    let tls = tls.unwrap_or_else(|e| {
        eprintln!("chat: {e}");
        std::process::exit(2);
    });
    let interactive = std::io::stdin().is_terminal();
    let mut session = Session::new(
        args.token.clone(),
        args.rooms.clone(),
        args.passphrase.clone(),
    );
    let mut lines: Lines = BufReader::new(smol::Unblock::new(std::io::stdin())).lines();
    smol::block_on(async {
        let mut attempt = 0u32;
        let mut ever_welcomed = false;
        loop {
            let opts = Connect::new(&args.url, tls.clone(), &session.token);
            let end = match link::connect(&opts, &args.ca).await {
                Ok(client) => {
                    let (end, welcomed) =
                        converse(client, &mut session, &mut lines, interactive).await;
                    if welcomed {
                        attempt = 0;
                        ever_welcomed = true;
                    }
                    end
                }
                Err(f) => End::Lost {
                    why: f.message,
                    retry: f.retry,
                },
            };
            let (why, retry) = match end {
                End::Quit => return,
                End::Lost { why, retry } => (why, retry),
            };
            // A first connection that fails is a setup problem: say it and stop.
            if !retry || !ever_welcomed {
                fail(&why);
            }
            session.lost();
            let wait = link::backoff(attempt);
            attempt = attempt.saturating_add(1);
            println!("! {why}; reconnecting in {} s", wait.as_secs().max(1));
            if wait_or_quit(wait, &mut lines).await {
                return;
            }
        }
    });
}

/// Waits before the next attempt; typed lines are not sent meanwhile (and
/// say so), `/quit` or end of input ends the client. Returns whether to quit.
async fn wait_or_quit(wait: std::time::Duration, lines: &mut Lines) -> bool {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let line = smol::future::or(async { Some(lines.next().await) }, async {
            smol::Timer::at(deadline).await;
            None
        })
        .await;
        match line {
            None => return false,
            Some(None | Some(Err(_))) => return true,
            Some(Some(Ok(line))) => match input::parse(&line) {
                Ok(Some(input::Command::Quit)) => return true,
                _ => println!("! not connected; that line was not sent"),
            },
        }
    }
}

/// One connection: joins (or resumes) the rooms, then relays lines and
/// frames until it ends. Returns why, and whether a Welcome came.
async fn converse(
    mut client: Client,
    session: &mut Session,
    lines: &mut Lines,
    interactive: bool,
) -> (End, bool) {
    let mut welcomed = false;
    for frame in session.reconnect() {
        if let Err(e) = client.send(&frame).await {
            return (
                End::Lost {
                    why: e.to_string(),
                    retry: true,
                },
                welcomed,
            );
        }
    }
    loop {
        if interactive {
            print!("{}", session.prompt());
            let _ = std::io::stdout().flush();
        }
        let input = smol::future::or(
            async { Input::Line(lines.next().await.and_then(Result::ok)) },
            async { Input::Server(client.recv().await) },
        )
        .await;
        if interactive {
            // Clear the prompt, so output starts at the left margin.
            print!("\r\x1b[K");
        }
        let frames = match input {
            Input::Server(Ok(Event::Frame(f))) => {
                welcomed |= session.frame(f);
                continue;
            }
            Input::Server(Ok(Event::Closed { code, .. })) => {
                let why = text::close_words(code);
                let retry = text::may_reconnect(code);
                return (End::Lost { why, retry }, welcomed);
            }
            Input::Server(Err(e)) => {
                return (
                    End::Lost {
                        why: format!("connection lost: {e}"),
                        retry: true,
                    },
                    welcomed,
                )
            }
            Input::Line(None) => {
                let _ = client.close().await;
                return (End::Quit, welcomed);
            }
            Input::Line(Some(line)) => match input::parse(&line).and_then(|c| match c {
                Some(c) => session.command(c),
                None => Ok(Action::Nothing),
            }) {
                Ok(Action::Send(frames)) => frames,
                Ok(Action::Nothing) => continue,
                Ok(Action::Quit) => {
                    let _ = client.close().await;
                    return (End::Quit, welcomed);
                }
                Err(why) => {
                    println!("! {why}");
                    continue;
                }
            },
        };
        for frame in frames {
            if let Err(e) = client.send(&frame).await {
                return (
                    End::Lost {
                        why: format!("connection lost: {e}"),
                        retry: true,
                    },
                    welcomed,
                );
            }
        }
    }
}
