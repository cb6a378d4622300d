//! What a typed line means. Parsing is separate from doing, so every line
//! either becomes one [`Command`] or a sentence saying why nothing happens.

use std::path::PathBuf;

use palisade::protocol::RoomName;

/// The commands, for `/help` and the `--help` text.
pub const COMMANDS: &str = "\
  TEXT              send TEXT to the current room
  /join ROOM [SEQ]  join ROOM (replaying what it keeps after SEQ) and switch to it
  /leave [ROOM]     leave ROOM (default: the current room)
  /room ROOM        switch the current room to ROOM (one you joined)
  /rooms            list the rooms you joined
  /who [ROOM]       who is in ROOM (default: the current room)
  /delete SEQ       delete message SEQ of the current room (admins)
  /reauth FILE      renew the session with the token in FILE
  /help             this list
  /quit             leave (Ctrl-D too)";

/// One typed line, understood.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Say(String),
    Join { room: RoomName, since: Option<u64> },
    Leave(Option<RoomName>),
    Room(RoomName),
    Rooms,
    Who(Option<RoomName>),
    Delete(u64),
    Reauth(PathBuf),
    Help,
    Quit,
}

/// The rule for room names, shown whenever one is refused.
const ROOM_RULES: &str =
    "room names are 1 to 32 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit";

/// Reads one line; `Ok(None)` for an empty line, `Err` says what is wrong.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Ok(None);
    }
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Some(Command::Say(line.to_owned())));
    };
    let mut words = rest.split_whitespace();
    let verb = words.next().unwrap_or("");
    let args: Vec<&str> = words.collect();
    let command = match (verb, args.as_slice()) {
        ("join", [room]) => Command::Join {
            room: room_name(room)?,
            since: None,
        },
        ("join", [room, seq]) => Command::Join {
            room: room_name(room)?,
            since: Some(
                seq.parse()
                    .map_err(|_| format!("/join: '{seq}' is not a seq number"))?,
            ),
        },
        ("join", _) => return Err("usage: /join ROOM [SEQ]".into()),
        ("leave", []) => Command::Leave(None),
        ("leave", [room]) => Command::Leave(Some(room_name(room)?)),
        ("room", [room]) => Command::Room(room_name(room)?),
        ("room", _) => return Err("usage: /room ROOM".into()),
        ("rooms", []) => Command::Rooms,
        ("delete", [seq]) => Command::Delete(
            seq.parse()
                .map_err(|_| format!("/delete: '{seq}' is not a seq number"))?,
        ),
        ("delete", _) => return Err("usage: /delete SEQ".into()),
        ("reauth", [_, ..]) => Command::Reauth(PathBuf::from(rest["reauth".len()..].trim())),
        ("reauth", []) => return Err("usage: /reauth FILE (a file holding the new token)".into()),
        ("who", []) => Command::Who(None),
        ("who", [room]) => Command::Who(Some(room_name(room)?)),
        ("who", _) => return Err("usage: /who [ROOM]".into()),
        ("help", _) => Command::Help,
        ("quit" | "exit", _) => Command::Quit,
        _ => return Err(format!("unknown command /{verb}; /help lists the commands")),
    };
    Ok(Some(command))
}

fn room_name(s: &str) -> Result<RoomName, String> {
    RoomName::new(s).map_err(|_| format!("'{s}' is not a room name: {ROOM_RULES}"))
}
