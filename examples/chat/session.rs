//! One user's chat state across connections: the rooms joined and the last
//! seq seen in each (so a reconnect resumes with `Join{since}` and can say
//! what was lost), the current room, the token, and what each incoming
//! frame means in words.

use std::collections::{BTreeMap, HashMap, VecDeque};

use palisade::protocol::{Body, ClientFrame, ErrorCode, RoomName, ServerFrame};
use palisade::seal::RoomKey;

use crate::input::{Command, COMMANDS};
use crate::text::{date, duration, error_words, printable};

/// A Join or Leave the server has not answered yet. Their refusals carry no
/// id, and a session's answers come in order, so an id-less Error answers
/// the oldest of these.
enum Pending {
    Join {
        room: RoomName,
        since: Option<u64>,
        resume: bool,
    },
    Leave(RoomName),
    Presence(RoomName),
}

/// What to do after a typed line.
pub enum Action {
    Send(ClientFrame),
    Nothing,
    Quit,
}

pub struct Session {
    pub token: String,
    pending_token: Option<String>,
    me: Option<String>,
    /// Joined rooms (the server said Joined) and the last seq seen in each.
    rooms: BTreeMap<RoomName, u64>,
    /// Rooms to join when the next connection opens (from `--room`, or the
    /// rooms of a connection that was lost), with the seq to resume after.
    rejoin: Vec<(RoomName, Option<u64>, bool)>,
    awaiting: VecDeque<Pending>,
    current: Option<RoomName>,
    next_id: u32,
    publishes: HashMap<u32, RoomName>,
    passphrase: Option<String>,
    keys: HashMap<RoomName, RoomKey>,
}

impl Session {
    pub fn new(token: String, rooms: Vec<RoomName>, passphrase: Option<String>) -> Self {
        Self {
            token,
            pending_token: None,
            me: None,
            rooms: BTreeMap::new(),
            rejoin: rooms.into_iter().map(|r| (r, Some(0), false)).collect(),
            awaiting: VecDeque::new(),
            current: None,
            next_id: 0,
            publishes: HashMap::new(),
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

    /// The connection was lost: every joined room is to be resumed after
    /// the last seq seen.
    pub fn lost(&mut self) {
        self.me = None;
        // Joins still unanswered are asked again on the next connection.
        for pending in std::mem::take(&mut self.awaiting) {
            if let Pending::Join {
                room,
                since,
                resume,
            } = pending
            {
                self.rejoin.push((room, since, resume));
            }
        }
        self.publishes.clear();
        let rooms = std::mem::take(&mut self.rooms);
        self.rejoin
            .extend(rooms.into_iter().map(|(r, seen)| (r, Some(seen), true)));
    }

    /// The Joins to send on a new connection.
    pub fn joins(&mut self) -> Vec<ClientFrame> {
        self.rejoin
            .drain(..)
            .map(|(room, since, resume)| {
                self.awaiting.push_back(Pending::Join {
                    room: room.clone(),
                    since,
                    resume,
                });
                ClientFrame::Join { room, since }
            })
            .collect()
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
                let names: Vec<&str> = self.rooms.keys().map(RoomName::as_str).collect();
                match names.is_empty() {
                    true => println!("* you are in no room; /join ROOM"),
                    false => println!("* joined: {}", names.join(", ")),
                }
                return Ok(Action::Nothing);
            }
            Command::Room(room) => {
                if !self.rooms.contains_key(&room) {
                    return Err(format!("you have not joined {room}; /join {room} first"));
                }
                println!("* now in {room}");
                self.current = Some(room);
                return Ok(Action::Nothing);
            }
            Command::Join { room, since } => {
                if self.rooms.contains_key(&room) {
                    self.current = Some(room.clone());
                    println!("* already in {room}; now in {room}");
                    return Ok(Action::Nothing);
                }
                self.awaiting.push_back(Pending::Join {
                    room: room.clone(),
                    since,
                    resume: false,
                });
                ClientFrame::Join {
                    room,
                    since: since.or(Some(0)),
                }
            }
            Command::Leave(room) => {
                let room = room
                    .or_else(|| self.current.clone())
                    .ok_or("/leave: you are in no room")?;
                if !self.rooms.contains_key(&room) {
                    return Err(format!("/leave: you have not joined {room}"));
                }
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
                    id: self.id(),
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
                let id = self.id();
                self.publishes.insert(id, room.clone());
                ClientFrame::Publish { id, room, body }
            }
        };
        Ok(Action::Send(frame))
    }

    fn id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
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
                self.awaiting
                    .retain(|p| !matches!(p, Pending::Leave(r) if *r == room));
                self.rooms.remove(&room);
                if self.current.as_ref() == Some(&room) {
                    self.current = self.rooms.keys().next().cloned();
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
                if let Some(seen) = self.rooms.get_mut(&room) {
                    *seen = (*seen).max(seq);
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
                self.publishes.remove(&id);
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
            .position(|p| matches!(p, Pending::Join { room: r, .. } if *r == room));
        let (since, resume) = match at.and_then(|i| self.awaiting.remove(i)) {
            Some(Pending::Join { since, resume, .. }) => (since, resume),
            _ => (None, false),
        };
        // Replayed Messages raise this; a restarted history starts again.
        let seen = since.filter(|s| *s <= last_seq).unwrap_or(last_seq);
        match since {
            Some(s) if resume && last_seq < s => {
                println!("* rejoined {room}; its history restarted on the server (it is at #{last_seq}, you had seen #{s})")
            }
            Some(s) if resume && first_seq > s + 1 => println!(
                "! rejoined {room}; {} message(s) (#{} to #{}) were no longer kept while you were away",
                first_seq - s - 1,
                s + 1,
                first_seq - 1
            ),
            _ if resume => println!("* rejoined {room}"),
            _ if last_seq == 0 || first_seq > last_seq => println!("* joined {room}; it keeps no messages yet"),
            _ => println!("* joined {room}; it keeps messages #{first_seq} to #{last_seq}"),
        }
        self.rooms.insert(room.clone(), seen);
        if self.current.is_none() || !resume {
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
            Some(id) => match self.publishes.remove(&id) {
                Some(room) => format!("your message to {room} was not sent"),
                None => "request refused".to_owned(),
            },
            None => match self.awaiting.pop_front() {
                Some(Pending::Join { room, .. }) => format!("could not join {room}"),
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
