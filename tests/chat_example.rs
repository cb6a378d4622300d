//! `examples/chat` against a real server, as a user runs it: text arrives
//! printed as text, typed lines arrive as sent, mistakes get a sentence
//! instead of silence, and setup errors name their cause.
#![cfg(feature = "server")]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::child::Driven;
use common::{frame, join, room, within, TestServer};
use palisade::client::Client;
use palisade::config::StorageConfig;
use palisade::protocol::{Body, ClientFrame, ServerFrame};

/// Longest wait for one line of the client.
const LINE_WAIT: Duration = Duration::from_secs(30);
const TRICKY: &str = r#"don't "x" C:\temp"#;

/// The example's binary, built by the same cargo that runs this test (in
/// the same target directory and profile, so usually already up to date).
fn chat_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_chat).clone()
}

fn build_chat() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .to_owned();
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "--example", "chat"]);
    build.current_dir(env!("CARGO_MANIFEST_DIR"));
    // The variables cargo sets for a test describe this test crate; passed
    // on, they look like a changed environment to build scripts (ring's),
    // which would rebuild them and the test again on the next run.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let ours = ["CARGO_HOME", "CARGO_TARGET_DIR"].contains(&name.as_str())
            || name.starts_with("CARGO_BUILD_");
        if name.starts_with("CARGO_") && !ours {
            build.env_remove(name);
        }
    }
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build --example chat");
    assert!(status.success(), "cargo build --example chat failed");
    profile_dir.join("examples").join("chat")
}

/// The chat example in a terminal: lines typed, lines printed.
struct Chat(Driven);

impl Chat {
    fn start(binary: &PathBuf, server: &TestServer, token: &str, extra: &[&str]) -> Self {
        let mut command = Command::new(binary);
        command
            .arg("--url")
            .arg(server.url())
            .arg("--ca")
            .arg(server.dir.join("ca.pem"))
            .arg("--token")
            .arg(token)
            .args(extra);
        Self(Driven::spawn("chat", &mut command))
    }

    fn type_line(&mut self, line: &str) {
        self.0.send_line(line);
    }

    /// The next line that `wanted` accepts; lines before it are skipped.
    fn line_where(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            let line = self.0.next_line(what, LINE_WAIT);
            if wanted(&line) {
                return line;
            }
        }
    }

    /// Ends input (as Ctrl-D) and waits for a clean exit.
    fn finish(mut self) {
        self.0.finish(Duration::from_secs(30));
    }
}

/// Publishes and returns the seq of the Ack.
async fn publish(client: &mut Client, text: &str) -> u64 {
    let body = Body::Text(text.into());
    client
        .send(&ClientFrame::Publish {
            id: 7,
            room: room("lobby"),
            body,
        })
        .await
        .unwrap();
    loop {
        if let ServerFrame::Ack { seq, .. } = frame(client).await {
            return seq;
        }
    }
}

#[test]
fn text_arrives_as_text_and_mistakes_get_a_sentence() {
    let binary = chat_binary(); // before any session exists: it may build
    let server = TestServer::start();
    let (mut bob, _) = within(server.connect(&server.member("bob")));
    let answer = within(join(&mut bob, "lobby", None));
    assert!(matches!(answer, ServerFrame::Joined { .. }), "{answer:?}");
    let mut chat = Chat::start(&binary, &server, &server.member("alice"), &[]);
    chat.line_where("welcoming alice", |l| {
        l.starts_with("* connected as alice (member)")
    });

    // Typing before joining, a room name that breaks the rules, a switch
    // to a room not joined, a leave without a room: each says why.
    chat.type_line("hello?");
    chat.line_where("about joining first", |l| {
        l == "! join a room first (/join ROOM); the line was not sent"
    });
    chat.type_line("/join Kitchen");
    chat.line_where("about the room name", |l| {
        l.starts_with("! 'Kitchen' is not a room name: room names are 1 to 32")
    });
    chat.type_line("/room nowhere");
    chat.line_where("about /room", |l| {
        l == "! you have not joined nowhere; /join nowhere first"
    });
    chat.type_line("/leave");
    chat.line_where("about /leave", |l| l == "! /leave: you are in no room");

    chat.type_line("/join lobby");
    chat.line_where("joining lobby", |l| l.starts_with("* joined lobby"));

    // Quotes, apostrophes and backslashes are printed as they are.
    let seq = within(publish(&mut bob, TRICKY));
    let line = chat.line_where("with bob's message", |l| l.contains("bob:"));
    assert_eq!(line, format!("[lobby #{seq}] bob: {TRICKY}"));
    // A newline starts an indented line; nothing is escaped.
    let seq = within(publish(&mut bob, "two\nlines\tand a tab"));
    let line = chat.line_where("with the first line", |l| l.contains("bob: two"));
    assert_eq!(line, format!("[lobby #{seq}] bob: two"));
    let line = chat.line_where("with the second line", |_| true);
    assert_eq!(line, "    lines\tand a tab");

    // A typed line arrives exactly as typed.
    chat.type_line(TRICKY);
    let got = within(async {
        loop {
            match frame(&mut bob).await {
                ServerFrame::Message { from, body, .. } if from != "bob" => break (from, body),
                _ => {}
            }
        }
    });
    assert_eq!(got, ("alice".to_owned(), Body::Text(TRICKY.into())));
    chat.finish();
}

fn run_chat(args: &[&str]) -> Output {
    Command::new(chat_binary())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn setup_errors_name_their_cause() {
    let _ = chat_binary();
    let server = TestServer::start();
    let token = server.member("alice");
    let other_ca = server.dir.join("other");
    std::fs::create_dir_all(&other_ca).unwrap();
    palisade::certgen::write_dev_pki(&other_ca).unwrap();
    let other_ca = other_ca.join("ca.pem");
    let ca = server.dir.join("ca.pem");

    let out = run_chat(&[
        "--url",
        &server.url(),
        "--ca",
        other_ca.to_str().unwrap(),
        "--token",
        &token,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the server's certificate is not signed by the CA in"),
        "{err}"
    );

    let page = format!("wss://localhost:{}/", server.addr.port());
    let out = run_chat(&[
        "--url",
        &page,
        "--ca",
        ca.to_str().unwrap(),
        "--token",
        &token,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the URL's path should be /ws"), "{err}");
    assert!(
        !err.to_lowercase().contains("<html"),
        "printed the page: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = run_chat(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(help.starts_with("usage: chat --url"), "{help}");
    assert!(help.contains("/reauth FILE"), "{help}");
}

/// Runs the chat client in `lobby` across a restart of `server`; returns
/// the line in which it resumed the lobby and the seq of bob's message
/// before the restart. Afterwards, bob's message and the client's own
/// line (PublishOnce) each arrive once.
fn across_a_restart(mut server: TestServer) -> (String, u64) {
    let binary = chat_binary();
    let (mut bob, _) = within(server.connect(&server.member("bob")));
    within(join(&mut bob, "lobby", None));
    let alice = server.member("alice");
    let mut chat = Chat::start(&binary, &server, &alice, &["--room", "lobby"]);
    chat.line_where("joining lobby", |l| l.starts_with("* joined lobby"));
    let before = within(publish(&mut bob, "before the restart"));
    chat.line_where("with the first message", |l| {
        l == format!("[lobby #{before}] bob: before the restart")
    });

    drop(bob);
    server.restart();
    chat.line_where("about the close", |l| {
        l.starts_with("! the server is shutting down (code 1001); reconnecting in ")
    });
    chat.line_where("welcoming alice again", |l| {
        l.starts_with("* connected as alice (member)")
    });
    let resumed = chat.line_where("resuming lobby", |l| l.contains("rejoined lobby"));

    // Only now (the client is back in the room) does bob publish.
    let (mut bob, _) = within(server.connect(&server.member("bob")));
    within(join(&mut bob, "lobby", None));
    let after = within(publish(&mut bob, "after the restart"));
    chat.line_where("with the message after the restart", |l| {
        l == format!("[lobby #{after}] bob: after the restart")
    });
    chat.type_line("back");
    let (from, body) = within(async {
        loop {
            match frame(&mut bob).await {
                ServerFrame::Message { from, body, .. } if from != "bob" => break (from, body),
                _ => {}
            }
        }
    });
    assert_eq!((from.as_str(), body), ("alice", Body::Text("back".into())));
    chat.finish();
    (resumed, before)
}

#[test]
fn the_client_resumes_by_itself_after_a_restart_with_storage() {
    let (resumed, _) = across_a_restart(TestServer::start());
    // File storage keeps the room's seq and history: nothing was lost.
    assert_eq!(resumed, "* rejoined lobby");
}

#[test]
fn the_client_names_what_a_restart_without_storage_lost() {
    let server = TestServer::start_with(|c| c.storage = Some(StorageConfig::memory()));
    let (resumed, before) = across_a_restart(server);
    // Memory storage restarts the room's seq from the clock, above every
    // seq it issued (PROTOCOL.md section 7): the client says what the
    // server no longer has, from the seq after the last it saw.
    assert!(resumed.starts_with("! rejoined lobby; "), "{resumed}");
    assert!(
        resumed.contains(&format!(" (#{} to #", before + 1))
            && resumed.ends_with(") sent meanwhile are no longer kept by the server"),
        "{resumed}"
    );
}
