//! A terminal chat client for palisade.
//!
//! ```text
//! cargo run --release -- demo              # in one shell: prints a token
//! cargo run --example chat -- --url wss://localhost:8443/ws \
//!     --ca palisade-demo/ca.pem --token v4.public.… --room lobby
//! ```
//!
//! With `--passphrase P`, every room is sealed end to end (PROTOCOL.md
//! section 6): text is encrypted before it leaves and opened on arrival,
//! the server relays ciphertext only.
//!
//! With `--cert FILE --key FILE`, the client presents a certificate (for a
//! server with `[tls] client_ca`, mutual TLS).
//!
//! Type a line to publish it into the current room. Commands:
//! `/join ROOM [SINCE]`, `/leave ROOM`, `/room ROOM` (switch the current
//! room), `/delete SEQ` (admins), `/quit`.
//!
//! `cargo run --example chat -- ... --room secret --passphrase "correct horse"`

use std::collections::HashMap;
use std::path::PathBuf;

use palisade::client::{Client, Connect, Event};
use palisade::protocol::{Body, ClientFrame, RoomName, ServerFrame};
use palisade::seal::RoomKey;
use smol::io::{AsyncBufReadExt, BufReader};
use smol::stream::StreamExt;

struct Args {
    url: String,
    ca: PathBuf,
    token: String,
    rooms: Vec<RoomName>,
    passphrase: Option<String>,
    /// A client certificate and its key, for servers with `[tls] client_ca`.
    cert: Option<(PathBuf, PathBuf)>,
}

/// Room keys, derived once per room (PBKDF2 is deliberately slow).
struct Sealer {
    passphrase: Option<String>,
    keys: HashMap<RoomName, RoomKey>,
}

impl Sealer {
    fn key(&mut self, room: &RoomName) -> Option<&RoomKey> {
        let passphrase = self.passphrase.as_deref()?;
        Some(
            self.keys
                .entry(room.clone())
                .or_insert_with(|| RoomKey::derive(passphrase, room)),
        )
    }

    fn body(&mut self, room: &RoomName, me: &str, text: &str) -> Body {
        match self.key(room) {
            Some(key) => key.seal_text(room, me, text),
            None => Body::Text(text.to_owned()),
        }
    }

    fn show(&mut self, frame: &ServerFrame) -> String {
        if let ServerFrame::Message {
            room,
            seq,
            from,
            body: Body::Sealed(bytes),
            ..
        } = frame
        {
            let opened = self.key(room).map(|key| key.open(room, from, bytes));
            return match opened {
                Some(Ok(plain)) => format!(
                    "[{room} #{seq}] {from} (sealed): {}",
                    String::from_utf8_lossy(&plain).escape_debug()
                ),
                Some(Err(e)) => format!("[{room} #{seq}] {from}: <cannot decrypt: {e}>"),
                None => format!("[{room} #{seq}] {from}: <sealed, {} bytes>", bytes.len()),
            };
        }
        show(frame)
    }
}

fn parse_args() -> Result<Args, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let (mut url, mut ca, mut token, mut rooms) = (None, None, None, Vec::new());
    let mut passphrase = None;
    let (mut cert, mut key) = (None, None);
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("url") => url = Some(value(&mut parser)?),
            Long("ca") => ca = Some(PathBuf::from(value(&mut parser)?)),
            Long("token") => token = Some(value(&mut parser)?),
            Long("passphrase") => passphrase = Some(value(&mut parser)?),
            Long("cert") => cert = Some(PathBuf::from(value(&mut parser)?)),
            Long("key") => key = Some(PathBuf::from(value(&mut parser)?)),
            Long("room") => {
                rooms.push(RoomName::new(&value(&mut parser)?).map_err(|e| e.to_string())?)
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(Args {
        url: url.ok_or("--url is required")?,
        ca: ca.ok_or("--ca is required")?,
        token: token.ok_or("--token is required")?,
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
    v.into_string().map_err(|v| format!("not UTF-8: {v:?}"))
}

fn show(frame: &ServerFrame) -> String {
    match frame {
        ServerFrame::Welcome {
            user,
            role,
            expires_at,
            ..
        } => {
            format!("* welcome {user} ({role}), token expires at {expires_at}")
        }
        ServerFrame::Joined {
            room,
            first_seq,
            last_seq,
        } => {
            format!("* joined {room} (retains {first_seq}..={last_seq})")
        }
        ServerFrame::Left { room } => format!("* left {room}"),
        ServerFrame::Message {
            room,
            seq,
            from,
            body,
            ..
        } => match body {
            Body::Text(t) => format!("[{room} #{seq}] {from}: {}", t.escape_debug()),
            Body::Sealed(b) => format!("[{room} #{seq}] {from}: <sealed, {} bytes>", b.len()),
        },
        ServerFrame::Ack { id, seq } => format!("* sent #{id} as seq {seq}"),
        ServerFrame::Deleted { room, seq } => format!("* {room} #{seq} deleted"),
        ServerFrame::Error { id, code, detail } => {
            format!("! error {code:?} (id {id:?}): {detail}")
        }
        ServerFrame::Members { room, total, users } => {
            let names: Vec<&str> = users.as_slice().iter().map(|u| u.as_str()).collect();
            format!("* {room}: {total} here: {}", names.join(", "))
        }
        ServerFrame::MemberJoined { room, user } => format!("* {user} joined {room}"),
        ServerFrame::MemberLeft { room, user } => format!("* {user} left {room}"),
    }
}

enum Input {
    Line(Option<String>),
    Server(Result<Event, palisade::client::ClientError>),
}

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
    smol::block_on(async {
        let mut client = match Client::connect(Connect::new(&args.url, tls, &args.token)).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("chat: {e}");
                std::process::exit(1);
            }
        };
        let mut current = args.rooms.first().cloned();
        for room in &args.rooms {
            let _ = client
                .send(&ClientFrame::Join {
                    room: room.clone(),
                    since: Some(0),
                })
                .await;
        }
        let mut lines = BufReader::new(smol::Unblock::new(std::io::stdin())).lines();
        let mut next_id = 1u32;
        let mut sealer = Sealer {
            passphrase: args.passphrase.clone(),
            keys: HashMap::new(),
        };
        let mut me = String::new();
        loop {
            let input = smol::future::or(
                async { Input::Line(lines.next().await.and_then(Result::ok)) },
                async { Input::Server(client.recv().await) },
            )
            .await;
            let frame = match input {
                Input::Server(Ok(Event::Frame(f))) => {
                    if let ServerFrame::Welcome { user, .. } = &f {
                        me = user.clone();
                    }
                    println!("{}", sealer.show(&f));
                    continue;
                }
                Input::Server(Ok(Event::Closed { code, reason })) => {
                    println!("* closed by server: {code} {reason}");
                    return;
                }
                Input::Server(Err(e)) => {
                    eprintln!("chat: {e}");
                    return;
                }
                Input::Line(None) => {
                    let _ = client.close().await;
                    return;
                }
                Input::Line(Some(line)) => match command(&line, &mut current, &mut next_id) {
                    Ok(Some(ClientFrame::Publish {
                        id,
                        room,
                        body: Body::Text(text),
                    })) => {
                        let body = sealer.body(&room, &me, &text);
                        ClientFrame::Publish { id, room, body }
                    }
                    Ok(Some(frame)) => frame,
                    Ok(None) => continue,
                    Err(Quit) => {
                        let _ = client.close().await;
                        return;
                    }
                },
            };
            if let Err(e) = client.send(&frame).await {
                eprintln!("chat: {e}");
                return;
            }
        }
    });
}

struct Quit;

/// Turns a typed line into a frame (or a local action).
fn command(
    line: &str,
    current: &mut Option<RoomName>,
    next_id: &mut u32,
) -> Result<Option<ClientFrame>, Quit> {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut words = line.split_whitespace();
    let room_arg = |w: Option<&str>| w.and_then(|r| RoomName::new(r).ok());
    let frame = match words.next() {
        Some("/quit") => return Err(Quit),
        Some("/join") => room_arg(words.next()).map(|room| {
            *current = Some(room.clone());
            ClientFrame::Join {
                room,
                since: words.next().and_then(|s| s.parse().ok()),
            }
        }),
        Some("/leave") => room_arg(words.next()).map(|room| ClientFrame::Leave { room }),
        Some("/room") => {
            *current = room_arg(words.next()).or(current.take());
            None
        }
        Some("/delete") => match (current.clone(), words.next().and_then(|s| s.parse().ok())) {
            (Some(room), Some(seq)) => Some(ClientFrame::Delete {
                id: bump(next_id),
                room,
                seq,
            }),
            _ => None,
        },
        Some(w) if w.starts_with('/') => {
            eprintln!("commands: /join ROOM [SINCE], /leave ROOM, /room ROOM, /delete SEQ, /quit");
            None
        }
        Some(_) => current.clone().map(|room| ClientFrame::Publish {
            id: bump(next_id),
            room,
            body: Body::Text(line.to_owned()),
        }),
        None => None,
    };
    Ok(frame)
}

fn bump(id: &mut u32) -> u32 {
    *id = id.wrapping_add(1);
    *id
}
