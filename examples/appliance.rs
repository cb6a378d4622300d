//! A simulated thermostat that embeds palisade: the device is a participant.
//!
//! ```text
//! cargo run --example appliance            # prints tokens and the page URL
//! ```
//!
//! Every second it publishes its reading into `telemetry`. Admins publish
//! `set <degrees>` into `control`; the thermostat applies it and confirms in
//! `control`. A host hook lets only admins publish into `control`. Watch it
//! with the browser page, or with the terminal client:
//!
//! ```text
//! cargo run --example chat -- --url wss://localhost:8444/ws \
//!     --ca palisade-appliance/ca.pem --token <admin token> --room telemetry --room control
//! ```
//! then type `/room control` and `set 19.5`.

use std::sync::Arc;
use std::time::Duration;

use palisade::auth::Identity;
use palisade::protocol::{Body, Role, RoomName};
use palisade::server::{Authorize, HostEvent, Server};

/// Only admins may command the device.
struct AdminsControl;

impl Authorize for AdminsControl {
    fn may_publish(&self, who: &Identity, room: &RoomName, _body: &Body) -> bool {
        room.as_str() != "control" || who.role == Role::Admin
    }
}

/// The simulated room temperature drifts toward the set point.
struct Thermostat {
    reading: f64,
    set_point: f64,
}

impl Thermostat {
    fn tick(&mut self) -> f64 {
        self.reading += (self.set_point - self.reading) * 0.2;
        self.reading
    }

    /// Applies `set <degrees>`; the answer to publish back.
    fn command(&mut self, text: &str) -> String {
        match text
            .trim()
            .strip_prefix("set ")
            .map(|v| v.trim().parse::<f64>())
        {
            Some(Ok(v)) if (5.0..=30.0).contains(&v) => {
                self.set_point = v;
                format!("ok: set point {v:.1} °C")
            }
            Some(_) => "refused: set point must be a number from 5 to 30".to_owned(),
            None => "unknown command; try: set 21.5".to_owned(),
        }
    }
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut demo = palisade::demo::prepare("palisade-appliance".as_ref(), 8444)
        .unwrap_or_else(|e| fail(&e.to_string()));
    demo.config.device_name = "thermostat".to_owned();

    let server = Server::new(&demo.config).unwrap_or_else(|e| fail(&e.to_string()));
    let _ = server.set_authorizer(Arc::new(AdminsControl));
    let device = server.handle();
    let telemetry = RoomName::new("telemetry").unwrap_or_else(|e| fail(&e.to_string()));
    let control = RoomName::new("control").unwrap_or_else(|e| fail(&e.to_string()));

    smol::block_on(async {
        let listener = smol::net::TcpListener::bind(demo.config.listen)
            .await
            .unwrap_or_else(|e| fail(&format!("cannot listen on {}: {e}", demo.config.listen)));
        println!("{}", instructions(&demo));
        smol::spawn(async move { server.run(listener, std::future::pending()).await }).detach();

        let commands = device
            .subscribe(&control, 32)
            .await
            .unwrap_or_else(|e| fail(&e.to_string()));
        let mut thermostat = Thermostat {
            reading: 18.0,
            set_point: 21.0,
        };
        loop {
            let next = smol::future::or(async { commands.recv().await.map(Some) }, async {
                smol::Timer::after(Duration::from_secs(1)).await;
                Some(None)
            });
            match next.await {
                None => return, // the server stopped
                Some(None) => {
                    let reading = format!("{:.2} °C", thermostat.tick());
                    let _ = device.publish(&telemetry, Body::Text(reading)).await;
                }
                Some(Some(HostEvent::Message {
                    from,
                    body: Body::Text(text),
                    ..
                })) => {
                    if from == "thermostat" {
                        continue; // our own confirmation
                    }
                    let answer = thermostat.command(&text);
                    log::info!("command from {from}: {answer}");
                    let _ = device.publish(&control, Body::Text(answer)).await;
                }
                Some(Some(HostEvent::Lagged { missed })) => log::warn!("missed {missed} commands"),
                Some(Some(_)) => {}
            }
        }
    });
}

/// What to run against this appliance: its rooms, and that only the admin
/// token may publish into `control`.
fn instructions(demo: &palisade::demo::Demo) -> String {
    let port = demo.config.listen.port();
    let ca = demo.dir.join("ca.pem");
    let url = format!("wss://localhost:{port}/ws");
    format!(
        "thermostat appliance: listening on {url}\n\
         It publishes a reading every second into `telemetry` and obeys `set <degrees>`\n\
         in `control`, where only admins may publish.\n\
         Watch and steer it from a terminal (admin token):\n  \
         cargo run --example chat -- --url {url} --ca {ca} --token {admin} --room telemetry --room control\n\
         then type `/room control` and `set 19.5`.\n\
         Watch only (member token; publishing into control is refused):\n  \
         cargo run --example chat -- --url {url} --ca {ca} --token {member} --room telemetry\n\
         In a browser (trust {ca} first): https://localhost:{port}/#token={admin}\n\
         Stop with Ctrl-C.",
        ca = ca.display(),
        admin = demo.admin_token,
        member = demo.member_token,
    )
}

fn fail(msg: &str) -> ! {
    eprintln!("appliance: {msg}");
    std::process::exit(2);
}
