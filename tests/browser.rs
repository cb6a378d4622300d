//! The browser page in a real browser: Debian's headless chromium, driven by
//! `web/e2e/run.mjs` (playwright-core, no browser download), against a server
//! this test starts. The test is also the Rust side of the conversation:
//! `bob` talks with the page's user `alice`, and `eve`, who joined the sealed
//! room without its passphrase, records what the server relays.
//!
//! Needs `/usr/bin/chromium` and `web/e2e/node_modules`:
//!
//! ```text
//! apt-get install -y chromium nodejs npm && npm ci --prefix web/e2e
//! ```
//!
//! so it is `#[ignore]`d: `cargo test -- --include-ignored` runs it (CI does),
//! and then it fails, naming what is missing, if any of them is. It saves a
//! screenshot of the page under Cargo's test temp folder, or to
//! `docs/screenshot.png` and `docs/screenshot-narrow.png` (the README's) with
//! `PALISADE_WRITE_SCREENSHOT=1`: one at 1400 px, one at 360 px wide.
#![cfg(feature = "server")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::child::Driven;
use common::{frame, room, within, TestServer};
use palisade::client::Client;
use palisade::protocol::{Body, ClientFrame, Role, RoomName, ServerFrame};
use palisade::seal::RoomKey;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Longest wait for one answer of the driver (it waits at most 20 s itself).
const DRIVER_STEP: Duration = Duration::from_secs(60);

const XSS: &str = "<img src=x onerror=alert(1)>";
const PASSPHRASE: &str = "correct horse battery staple";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What is missing to run the browser, or None when all is there.
fn missing_tools() -> Option<String> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (apt-get install -y chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node (apt-get install -y nodejs npm)".to_owned());
    }
    if !repo().join("web/e2e/node_modules/playwright-core").is_dir() {
        missing.push("web/e2e/node_modules (npm ci --prefix web/e2e)".to_owned());
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// The page in chromium, one JSON command and answer at a time.
struct Browser(Driven);

impl Browser {
    fn launch(config: &Path) -> Self {
        let mut command = Command::new("node");
        command.arg(repo().join("web/e2e/run.mjs")).arg(config);
        let mut browser = Self(Driven::spawn("browser driver", &mut command));
        assert_eq!(browser.answer("launch"), json!("ready"));
        browser
    }

    fn answer(&mut self, what: &str) -> Value {
        let line = self.0.next_line(&format!("answering {what}"), DRIVER_STEP);
        let answer: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("driver wrote {line:?}, not JSON: {e}"));
        assert_eq!(
            answer["ok"],
            json!(true),
            "{what} failed in the browser: {answer}"
        );
        answer["result"].clone()
    }

    fn run(&mut self, command: Value) -> Value {
        let what = command["cmd"].as_str().unwrap_or("?").to_owned();
        self.0.send_line(&command.to_string());
        self.answer(&what)
    }

    /// Closes stdin so the driver closes chromium and exits.
    fn finish(&mut self) {
        self.0.finish(Duration::from_secs(10));
    }
}

async fn join(client: &mut Client, name: &str) {
    let room = room(name);
    client
        .send(&ClientFrame::Join { room, since: None })
        .await
        .unwrap();
    match frame(client).await {
        ServerFrame::Joined { room: got, .. } if got.as_str() == name => {}
        other => panic!("expected Joined {name}, got {other:?}"),
    }
}

async fn publish(client: &mut Client, id: u32, name: &str, body: Body) {
    let room = room(name);
    client
        .send(&ClientFrame::Publish { id, room, body })
        .await
        .unwrap();
}

/// The next Message in `name`, skipping Acks and other rooms.
async fn next_message(client: &mut Client, name: &str) -> (String, Body) {
    loop {
        match frame(client).await {
            ServerFrame::Message {
                room, from, body, ..
            } if room.as_str() == name => return (from, body),
            ServerFrame::Message { .. }
            | ServerFrame::Ack { .. }
            | ServerFrame::MemberJoined { .. }
            | ServerFrame::MemberLeft { .. } => {}
            other => panic!("unexpected frame while waiting in {name}: {other:?}"),
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
#[ignore = "needs chromium, node and web/e2e/node_modules (npm ci --prefix web/e2e)"]
fn the_page_chats_seals_and_escapes_in_a_real_browser() {
    if let Some(missing) = missing_tools() {
        panic!(
            "the browser test needs {missing}.\n\
             Install: apt-get install -y chromium nodejs npm && npm ci --prefix web/e2e"
        );
    }

    // Presence events on (tests/common turns them off by default), so the
    // page's member list follows arrivals and departures.
    let mut server = TestServer::start_with_page_origin_and(|config| {
        config.presence.events = vec!["*".to_owned()];
        config.presence.events_max_members = 100;
    });
    let base = format!("https://localhost:{}", server.addr.port());
    // "lobby" is named exactly, so the page joins it on connect by itself.
    let alice = server.token("alice", Role::Member, &["lobby", "*"], 3600);
    let config_path = server.dir.join("browser.json");
    let config = json!({
        "base": base,
        "cert": server.dir.join("server.pem"),
        "chromium": CHROMIUM,
        "token": alice,
    });
    std::fs::write(&config_path, config.to_string()).unwrap();

    let vault: RoomName = room("vault");
    let key = RoomKey::derive(PASSPHRASE, &vault);
    let (mut bob, _) = within(server.connect(&server.member("bob")));
    let (mut eve, _) = within(server.connect(&server.member("eve")));
    within(async {
        join(&mut bob, "lobby").await;
        join(&mut bob, "vault").await;
        join(&mut eve, "vault").await;
    });

    let mut browser = Browser::launch(&config_path);

    // Log in with the token from the fragment, which must not stay visible.
    let opened = browser.run(json!({"cmd": "open"}));
    assert_eq!(opened["user"], json!("alice"), "{opened}");
    assert_eq!(
        opened["hash"],
        json!(""),
        "fragment still in location: {opened}"
    );
    assert_eq!(opened["href"], json!(format!("{base}/")), "{opened}");

    assert_eq!(
        opened["accountOpen"],
        json!(false),
        "token form stays open: {opened}"
    );
    let tabs = browser.run(json!({"cmd": "tabs"}));
    assert_eq!(
        tabs,
        json!([{"room": "lobby", "unread": null, "current": true}]),
        "the token's exact room was not joined on connect"
    );

    // Who is in the lobby: the page asked on Joined. A second user (a Rust
    // client) arrives and leaves; the list and the room's timeline follow.
    let listed = browser.run(json!({"cmd": "members", "names": ["alice", "bob"]}));
    assert_eq!(listed["title"], json!("In this room (2)"), "{listed}");
    let (mut carol, _) = within(server.connect(&server.member("carol")));
    within(join(&mut carol, "lobby"));
    let listed = browser.run(json!({"cmd": "members", "names": ["alice", "bob", "carol"]}));
    assert_eq!(listed["title"], json!("In this room (3)"), "{listed}");
    within(carol.close()).unwrap();
    let listed = browser.run(json!({"cmd": "members", "names": ["alice", "bob"]}));
    assert_eq!(listed["title"], json!("In this room (2)"), "{listed}");
    assert_eq!(
        listed["notes"],
        json!([
            {"kind": "arrival", "text": "carol joined the room.", "user": "carol"},
            {"kind": "departure", "text": "carol left the room.", "user": "carol"},
        ]),
        "{listed}"
    );

    // Plain room: the browser's message reaches bob with alice's name...
    browser.run(json!({"cmd": "join", "room": "lobby"}));
    browser.run(json!({"cmd": "send", "text": "hello from the browser"}));
    let (from, body) = within(next_message(&mut bob, "lobby"));
    assert_eq!(from, "alice");
    assert_eq!(body, Body::Text("hello from the browser".into()));

    // Enter sends, Shift+Enter is a newline, the sending Enter is not text.
    browser.run(json!({"cmd": "sendEnter", "lines": ["two", "lines"]}));
    let (_, body) = within(next_message(&mut bob, "lobby"));
    assert_eq!(body, Body::Text("two\nlines".into()));

    // ...and bob's reach the page, markup shown as text.
    within(async {
        publish(&mut bob, 1, "lobby", Body::Text("hello from rust".into())).await;
        publish(&mut bob, 2, "lobby", Body::Text(XSS.into())).await;
    });
    let shown = browser.run(json!({"cmd": "message", "text": "hello from rust"}));
    assert_eq!(shown["from"], json!("bob"), "{shown}");
    let shown = browser.run(json!({"cmd": "message", "text": XSS, "kind": "text"}));
    assert_eq!(shown["text"], json!(XSS), "{shown}");
    assert_eq!(
        shown["textHtml"],
        json!("&lt;img src=x onerror=alert(1)&gt;"),
        "{shown}"
    );

    // Enough text to overflow the list; a message arriving while the
    // reader is at the end is in view without scrolling.
    let tall = vec!["filler"; 30].join("\n");
    within(async {
        for id in 10..13 {
            publish(&mut bob, id, "lobby", Body::Text(tall.clone())).await;
        }
        publish(&mut bob, 13, "lobby", Body::Text("at the end".into())).await;
    });
    let seen = browser.run(json!({"cmd": "seen", "text": "at the end"}));
    assert_eq!(seen["overflows"], json!(true), "{seen}");
    assert_eq!(
        seen["inView"],
        json!(true),
        "newest message below the fold: {seen}"
    );
    assert_eq!(seen["marker"], json!(false), "{seen}");
    // A reader who scrolled up stays where they are and gets the marker.
    browser.run(json!({"cmd": "scrollUp"}));
    within(publish(
        &mut bob,
        14,
        "lobby",
        Body::Text("while reading".into()),
    ));
    let seen = browser.run(json!({"cmd": "seen", "text": "while reading"}));
    assert_eq!(
        seen["inView"],
        json!(false),
        "the page scrolled away: {seen}"
    );
    assert_eq!(
        seen["marker"],
        json!(true),
        "no new-messages marker: {seen}"
    );

    // Direction overrides stay inside their message.
    let bidi = "\u{202E}reversed";
    within(publish(&mut bob, 15, "lobby", Body::Text(bidi.into())));
    let seen = browser.run(json!({"cmd": "seen", "text": bidi}));
    assert_eq!(seen["dir"], json!("auto"), "{seen}");
    assert_eq!(seen["bidi"], json!("isolate"), "{seen}");

    // Sealed room: both sides hold the passphrase, the server does not.
    browser.run(json!({"cmd": "join", "room": "vault", "passphrase": PASSPHRASE}));
    browser.run(json!({"cmd": "send", "text": "sealed hello from the browser"}));
    let (from, body) = within(next_message(&mut bob, "vault"));
    assert_eq!(from, "alice");
    let Body::Sealed(bytes) = body else {
        panic!("the browser sent a sealed room's message unsealed: {body:?}")
    };
    let plain = key
        .open(&vault, "alice", &bytes)
        .expect("bob opens alice's");
    assert_eq!(plain, b"sealed hello from the browser");

    let sealed = key.seal_text(&vault, "bob", "sealed hello from rust");
    within(publish(&mut bob, 3, "vault", sealed));
    let shown = browser.run(json!({
        "cmd": "message", "text": "sealed hello from rust", "kind": "opened"
    }));
    assert_eq!(shown["from"], json!("bob"), "{shown}");
    browser.run(json!({
        "cmd": "message", "text": "sealed hello from the browser", "kind": "opened"
    }));

    // What the server relayed to a member without the passphrase.
    for (sender, text) in [
        ("alice", "sealed hello from the browser"),
        ("bob", "sealed hello from rust"),
    ] {
        let (from, body) = within(next_message(&mut eve, "vault"));
        assert_eq!(from, sender);
        let Body::Sealed(bytes) = body else {
            panic!("the server relayed plaintext in the sealed room: {body:?}")
        };
        assert!(!contains(&bytes, text.as_bytes()), "plaintext in {bytes:?}");
        assert!(!contains(&bytes, b"sealed hello"), "plaintext in {bytes:?}");
    }

    // A message in a room not shown counts as unread until it is opened.
    within(publish(
        &mut bob,
        16,
        "lobby",
        Body::Text("unread one".into()),
    ));
    let tabs = browser.run(json!({"cmd": "tabs", "unreadIn": "lobby"}));
    assert_eq!(
        tabs[0],
        json!({"room": "lobby", "unread": "1", "current": false})
    );
    // Leave the lobby and join it again at once: the page must not take
    // the server's answer to the Leave for the end of the new membership.
    browser.run(json!({"cmd": "tab", "room": "lobby"}));
    browser.run(json!({"cmd": "rejoin", "room": "lobby"}));
    within(publish(
        &mut bob,
        4,
        "lobby",
        Body::Text("still there".into()),
    ));
    browser.run(json!({"cmd": "message", "text": "still there"}));

    // Nothing the peer sent became markup or ran (history replayed too).
    browser.run(json!({"cmd": "message", "text": XSS, "kind": "text"}));
    let seen = browser.run(json!({"cmd": "inspect"}));
    assert_eq!(seen["images"], json!(0), "{seen}");
    assert_eq!(seen["elementsInTexts"], json!(0), "{seen}");
    assert_eq!(seen["dialogs"], json!([]), "a dialog fired: {seen}");
    assert_eq!(seen["pageErrors"], json!([]), "{seen}");
    assert_eq!(seen["consoleErrors"], json!([]), "{seen}");
    assert_eq!(seen["state"], json!("connected"), "{seen}");

    // Both screenshots; at 360 px nothing scrolls sideways.
    let shots = if std::env::var_os("PALISADE_WRITE_SCREENSHOT").is_some() {
        repo().join("docs")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
    };
    for (width, name) in [(1400, "screenshot.png"), (360, "screenshot-narrow.png")] {
        let size = browser.run(json!({"cmd": "viewport", "width": width, "height": 820}));
        assert!(
            size["scrollWidth"].as_u64() <= size["clientWidth"].as_u64(),
            "horizontal scroll at {width} px: {size}"
        );
        let shot = shots.join(name);
        browser.run(json!({"cmd": "screenshot", "path": shot}));
        println!("screenshot of the page at {width} px: {}", shot.display());
    }

    // The server restarts (file storage, as `palisade serve` runs): the
    // page reconnects by itself and resumes the lobby after the last seq
    // it saw. Bob publishes at once, before or after the page is back:
    // replayed or live, the page shows it once, and nothing was lost.
    drop((bob, eve));
    server.restart();
    let (mut bob, _) = within(server.connect(&server.member("bob")));
    within(async {
        join(&mut bob, "lobby").await;
        publish(
            &mut bob,
            20,
            "lobby",
            Body::Text("while you were away".into()),
        )
        .await;
    });
    let shown = browser.run(json!({"cmd": "message", "text": "while you were away"}));
    assert_eq!(shown["from"], json!("bob"), "{shown}");
    browser.run(json!({"cmd": "state", "state": "connected"}));
    // Her own message after the restart goes out with PublishOnce.
    browser.run(json!({"cmd": "send", "text": "back again"}));
    let (from, body) = within(async {
        loop {
            match next_message(&mut bob, "lobby").await {
                (from, _) if from == "bob" => {}
                theirs => break theirs,
            }
        }
    });
    assert_eq!(
        (from.as_str(), body),
        ("alice", Body::Text("back again".into()))
    );
    let seen = browser.run(json!({"cmd": "inspect"}));
    let count = |t: &str| {
        seen["texts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| *x == t)
            .count()
    };
    assert_eq!(count("while you were away"), 1, "{seen}");
    assert_eq!(count("back again"), 1, "{seen}");
    let kinds = seen["noteKinds"].as_array().unwrap();
    assert!(
        !kinds.contains(&json!("lost")),
        "a loss where none was: {seen}"
    );
    assert_eq!(seen["state"], json!("connected"), "{seen}");
    assert_eq!(seen["pageErrors"], json!([]), "{seen}");

    // A refused upgrade lists the likely causes in order and links /healthz.
    let refused = browser.run(json!({"cmd": "refused"}));
    let help = refused["help"].as_str().unwrap_or_default();
    let at = |needle: &str| {
        help.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing: {help}"))
    };
    assert!(at("origin") < at("token was refused"), "{help}");
    assert!(at("token was refused") < at("unreachable"), "{help}");
    assert_eq!(refused["healthz"], json!("/healthz"), "{refused}");
    browser.finish();
}
