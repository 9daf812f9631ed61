//! noisy: writes to stdout and stderr, panics and allocates on command, for the guest-output and
//! memory-limit tests (tests/e2e/rust_guests_test.py).
//!
//! Requests: "panic <text>" panics with <text> (the panic hook prints the message and its
//! location to stderr, then the call aborts: a trap); "print <n>" prints n numbered lines to
//! stdout; "stderr <text>" writes one line to stderr; "hog" keeps allocating until the memory
//! limit stops it.
wit_bindgen::generate!({ path: "../../../wit", world: "component" });

use capsule::core::types::{Callback, ComponentMetadata, Error, HealthStatus, Message, Payload};
use exports::capsule::core::lifecycle::Guest;

/// 1 MiB buffers, each touched so it is really allocated, none ever freed.
fn hog() -> ! {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        kept.push(vec![0xab; 1 << 20]);
    }
}

struct Noisy;

impl Guest for Noisy {
    fn init(_config: Vec<(String, String)>) -> Result<(), Error> {
        Ok(())
    }

    fn handle_message(msg: Message) -> Result<Option<Payload>, Error> {
        let body = String::from_utf8_lossy(&msg.payload.bytes).into_owned();
        let (command, arg) = body.split_once(' ').unwrap_or((body.as_str(), ""));
        match command {
            "panic" => panic!("{arg}"),
            "print" => {
                for i in 0..arg.parse::<u32>().unwrap_or(0) {
                    println!("noisy line {i}");
                }
            }
            "stderr" => eprintln!("{arg}"),
            "hog" => hog(),
            _ => {}
        }
        Ok(Some(Payload { codec: 0x0f, bytes: b"done".to_vec() }))
    }

    fn handle_callback(_response: Callback) -> Result<(), Error> {
        Ok(())
    }

    fn health() -> HealthStatus {
        HealthStatus::Healthy
    }

    fn shutdown() {}

    fn metadata() -> ComponentMetadata {
        ComponentMetadata {
            name: "rust-noisy".into(),
            version: "0.1.0".into(),
            description: "Prints, panics and allocates on command (Rust)".into(),
            labels: vec![],
        }
    }
}

export!(Noisy);
