//! One user's chat state across connections: the rooms joined and the last
//! seq seen in each ([`Resume`]: a reconnect resumes with `Join{since}` and
//! says what was lost), the publishes awaiting their Ack ([`Outbox`]: sent
//! with `PublishOnce`, so a retry after a reconnect lands once), the
//! current room, the token, and what each incoming frame means in words.

use std::collections::{HashMap, VecDeque};

use palisade::client::{Joined, Outbox, Refusal, Resume, Seen};
use palisade::protocol::{Body, ClientFrame, ErrorCode, RoomName, ServerFrame};
use palisade::seal::RoomKey;

use crate::input::{Command, COMMANDS};
use crate::text::{date, duration, error_words, lost_words, printable};

/// A Join or Leave the server has not answered yet. Their refusals carry no
/// id, and a session's answers come in order, so an id-less Error answers
/// the oldest of these.
enum Pending {
    Join(RoomName),
    Leave(RoomName),
    Presence(RoomName),
}

/// What to do after a typed line.
pub enum Action {
    Send(Vec<ClientFrame>),
    Nothing,
    Quit,
}

pub struct Session {
    pub token: String,
    pending_token: Option<String>,
    me: Option<String>,
    /// The rooms joined (and asked for), with the last seq seen in each.
    resume: Resume,
    awaiting: VecDeque<Pending>,
    current: Option<RoomName>,
    outbox: Outbox,
    passphrase: Option<String>,
    keys: HashMap<RoomName, RoomKey>,
}

impl Session {
    pub fn new(token: String, rooms: Vec<RoomName>, passphrase: Option<String>) -> Self {
        // Asked now, sent when the first connection opens (`reconnect`).
        let mut resume = Resume::new();
        for room in rooms {
            resume.join(room, Some(0));
        }
        Self {
            token,
            pending_token: None,
            me: None,
            resume,
            awaiting: VecDeque::new(),
            current: None,
            outbox: Outbox::new(),
            passphrase,
            keys: HashMap::new(),
        }
    }

    /// What the prompt shows.
    pub fn prompt(&self) -> String {
        match &self.current {
            Some(room) => format!("{room}> "),
            None => "(no room)> ".to_owned(),
        }
    }

    /// The connection was lost: what the server had not answered is asked
    /// again on the next one (joins by `Resume`, publishes by `Outbox`).
    pub fn lost(&mut self) {
        self.me = None;
        self.awaiting.clear();
    }

    /// What a new connection sends first: a Join per room (resuming after
    /// the last seq seen), then every publish still awaiting its Ack, with
    /// its key, so none lands twice.
    pub fn reconnect(&mut self) -> Vec<ClientFrame> {
        let mut frames = self.resume.reconnect();
        for frame in &frames {
            if let ClientFrame::Join { room, .. } = frame {
                self.awaiting.push_back(Pending::Join(room.clone()));
            }
        }
        let again = self.outbox.resend();
        if !again.is_empty() {
            println!(
                "* sending {} unconfirmed message(s) again; none will appear twice",
                again.len()
            );
        }
        frames.extend(again);
        frames
    }

    /// Turns a typed command into what to send.
    pub fn command(&mut self, command: Command) -> Result<Action, String> {
        let frame = match command {
            Command::Quit => return Ok(Action::Quit),
            Command::Help => {
                println!("{COMMANDS}");
                return Ok(Action::Nothing);
            }
            Command::Rooms => {
                let names: Vec<&str> = self.resume.rooms().map(RoomName::as_str).collect();
                match names.is_empty() {
                    true => println!("* you are in no room; /join ROOM"),
                    false => println!("* joined: {}", names.join(", ")),
                }
                return Ok(Action::Nothing);
            }
            Command::Room(room) => {
                if !self.resume.is_joined(&room) {
                    return Err(format!("you have not joined {room}; /join {room} first"));
                }
                println!("* now in {room}");
                self.current = Some(room);
                return Ok(Action::Nothing);
            }
            Command::Join { room, since } => {
                if self.resume.is_joined(&room) {
                    self.current = Some(room.clone());
                    println!("* already in {room}; now in {room}");
                    return Ok(Action::Nothing);
                }
                self.awaiting.push_back(Pending::Join(room.clone()));
                self.resume.join(room, since.or(Some(0)))
            }
            Command::Leave(room) => {
                let room = room
                    .or_else(|| self.current.clone())
                    .ok_or("/leave: you are in no room")?;
                if !self.resume.is_joined(&room) {
                    return Err(format!("/leave: you have not joined {room}"));
                }
                // Forgotten now, so a reconnect before the answer does not
                // join it again.
                self.resume.left(&room);
                self.awaiting.push_back(Pending::Leave(room.clone()));
                ClientFrame::Leave { room }
            }
            Command::Who(room) => {
                let room = room
                    .or_else(|| self.current.clone())
                    .ok_or("/who: you are in no room")?;
                self.awaiting.push_back(Pending::Presence(room.clone()));
                ClientFrame::Presence { room }
            }
            Command::Delete(seq) => {
                let room = self.current.clone().ok_or("/delete: join a room first")?;
                ClientFrame::Delete {
                    id: self.outbox.id(),
                    room,
                    seq,
                }
            }
            Command::Reauth(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("/reauth: cannot read {}: {e}", path.display()))?;
                let token = text.trim().to_owned();
                if token.is_empty() {
                    return Err(format!("/reauth: {} is empty", path.display()));
                }
                self.pending_token = Some(token.clone());
                ClientFrame::Reauth { token }
            }
            Command::Say(text) => {
                let room = self
                    .current
                    .clone()
                    .ok_or("join a room first (/join ROOM); the line was not sent")?;
                let body = self.body(&room, &text);
                // Ones the server could not confirm go again first.
                let mut frames = self.outbox.stalled();
                let frame = self
                    .outbox
                    .publish(room, body)
                    .map_err(|e| format!("the line was not sent: {e}"))?;
                frames.push(frame);
                return Ok(Action::Send(frames));
            }
        };
        Ok(Action::Send(vec![frame]))
    }

    fn key(&mut self, room: &RoomName) -> Option<&RoomKey> {
        let passphrase = self.passphrase.as_deref()?;
        Some(
            self.keys
                .entry(room.clone())
                .or_insert_with(|| RoomKey::derive(passphrase, room)),
        )
    }

    fn body(&mut self, room: &RoomName, text: &str) -> Body {
        let me = self.me.clone().unwrap_or_default();
        match self.key(room) {
            Some(key) => key.seal_text(room, &me, text),
            None => Body::Text(text.to_owned()),
        }
    }

    /// Prints what a frame means and updates the state; returns whether
    /// it was a Welcome (the connection works).
    pub fn frame(&mut self, frame: ServerFrame) -> bool {
        match frame {
            ServerFrame::Welcome {
                user,
                role,
                expires_at,
                ..
            } => {
                let left = expires_at.saturating_sub(now());
                let when = format!("{} (in {})", date(expires_at), duration(left));
                if self.me.is_some() {
                    if let Some(token) = self.pending_token.take() {
                        self.token = token;
                    }
                    println!("* token renewed; the session now ends {when}");
                } else {
                    println!(
                        "* connected as {} ({role}); the token expires {when}",
                        printable(&user)
                    );
                }
                self.me = Some(user);
                return true;
            }
            ServerFrame::Joined {
                room,
                first_seq,
                last_seq,
            } => self.joined(room, first_seq, last_seq),
            ServerFrame::Left { room } => {
                let ours = self
                    .awaiting
                    .iter()
                    .position(|p| matches!(p, Pending::Leave(r) if *r == room));
                match ours {
                    // Our /leave forgot the room already; it may be
                    // joined again since, and this Left is about the old
                    // membership.
                    Some(at) => drop(self.awaiting.remove(at)),
                    // The server's own (a Reauth that narrowed the rooms).
                    None => self.resume.left(&room),
                }
                if self.current.as_ref() == Some(&room) && !self.resume.is_joined(&room) {
                    self.current = self.resume.rooms().next().cloned();
                }
                println!("* left {room}");
            }
            ServerFrame::Message {
                room,
                seq,
                from,
                body,
                ..
            } => {
                match self.resume.message(&room, seq) {
                    Seen::Next => {}
                    Seen::AfterGap(lost) => println!(
                        "! {} in {room} never arrived here",
                        lost_words(lost.start(), lost.end())
                    ),
                    // A replay overlapping what was shown, or after a Leave.
                    _ => return false,
                }
                // The sender as sent opens the seal; the printable form is shown.
                let opened = match &body {
                    Body::Sealed(bytes) => self.key(&room).map(|k| k.open(&room, &from, bytes)),
                    Body::Text(_) => None,
                };
                let from = printable(&from);
                let line = match body {
                    Body::Text(t) => format!("[{room} #{seq}] {from}: {}", printable(&t)),
                    Body::Sealed(bytes) => match opened {
                        Some(Ok(plain)) => format!(
                            "[{room} #{seq}] {from} (sealed): {}",
                            printable(&String::from_utf8_lossy(&plain))
                        ),
                        Some(Err(e)) => format!("[{room} #{seq}] {from}: (cannot decrypt: {e})"),
                        None => format!("[{room} #{seq}] {from}: (sealed, {} bytes; start with --passphrase to read)", bytes.len()),
                    },
                };
                println!("{line}");
            }
            ServerFrame::Ack { id, .. } => {
                self.outbox.acked(id);
            }
            ServerFrame::Deleted { room, seq } => {
                println!("* message #{seq} in {room} was deleted")
            }
            ServerFrame::Error { id, code, detail } => self.error(id, code, &detail),
            ServerFrame::Members { room, total, users } => {
                self.awaiting
                    .retain(|p| !matches!(p, Pending::Presence(r) if *r == room));
                let names: Vec<String> = users
                    .as_slice()
                    .iter()
                    .map(|u| printable(u.as_str()))
                    .collect();
                let more = usize::try_from(total)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(names.len());
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                println!("* in {room} ({total}): {}{more}", names.join(", "));
            }
            ServerFrame::MemberJoined { room, user } => {
                println!("* {} joined {room}", printable(user.as_str()))
            }
            ServerFrame::MemberLeft { room, user } => {
                println!("* {} left {room}", printable(user.as_str()))
            }
        }
        false
    }

    fn joined(&mut self, room: RoomName, first_seq: u64, last_seq: u64) {
        let at = self
            .awaiting
            .iter()
            .position(|p| matches!(p, Pending::Join(r) if *r == room));
        if let Some(at) = at {
            self.awaiting.remove(at);
        }
        let fresh = match self.resume.joined(&room, first_seq, last_seq) {
            Joined::Resumed => {
                println!("* rejoined {room}");
                false
            }
            Joined::Lost(lost) => {
                println!(
                    "! rejoined {room}; {} sent meanwhile are no longer kept by the server",
                    lost_words(lost.start(), lost.end())
                );
                false
            }
            Joined::Restarted { seen, now } => {
                println!("* rejoined {room}; its history restarted on the server (it is at #{now}, you had seen #{seen})");
                false
            }
            _ if first_seq > last_seq => {
                println!("* joined {room}; it keeps no messages yet");
                true
            }
            _ => {
                println!("* joined {room}; it keeps messages #{first_seq} to #{last_seq}");
                true
            }
        };
        if self.current.is_none() || fresh {
            self.current = Some(room);
        }
    }

    fn error(&mut self, id: Option<u32>, code: ErrorCode, detail: &str) {
        if code == ErrorCode::TokenRejected {
            self.pending_token = None;
        }
        let detail = printable(detail);
        let words = error_words(code);
        let about = match id {
            Some(id) => match self.outbox.refused(id, code) {
                Refusal::Dropped(u) => format!("your message to {} was not sent", u.room),
                Refusal::Kept(room) => {
                    return println!(
                        "! your message to {room} was not confirmed ({words}); \
                         it goes again with your next line or after a reconnect, \
                         and will not appear twice"
                    )
                }
                _ => "request refused".to_owned(),
            },
            None => match self.awaiting.pop_front() {
                Some(Pending::Join(room)) => {
                    self.resume.refused(&room);
                    format!("could not join {room}")
                }
                Some(Pending::Leave(room)) => format!("could not leave {room}"),
                Some(Pending::Presence(room)) => format!("could not list who is in {room}"),
                None => "the server refused a request".to_owned(),
            },
        };
        println!("! {about}: {words} ({detail})");
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
