//! counter: a per-component counter kept in capsule's storage, so it survives restarts.
//!
//! Requests: "incr" adds one and replies with the new value, "get" replies with the value,
//! "reset" deletes it. The Rust twin of guest/examples/python/counter and go/counter.
wit_bindgen::generate!({ path: "../../../../wit", world: "component" });

use capsule::core::types::{
    Callback, ComponentMetadata, Error, HealthStatus, LogLevel, Message, Payload,
};
use capsule::core::{services, storage};
use exports::capsule::core::lifecycle::Guest;

const KEY: &str = "count";
const TEXT: u32 = 0x0f; // multicodec utf-8 text

/// The stored value: 0 when the key is absent.
fn current() -> Result<u64, Error> {
    match storage::get(KEY)? {
        None => Ok(0),
        Some(bytes) => String::from_utf8_lossy(&bytes)
            .parse()
            .map_err(|e| Error::Internal(format!("stored count is not a number: {e}"))),
    }
}

fn answer(body: String) -> Result<Option<Payload>, Error> {
    Ok(Some(Payload { codec: TEXT, bytes: body.into_bytes() }))
}

struct Counter;

impl Guest for Counter {
    fn init(_config: Vec<(String, String)>) -> Result<(), Error> {
        let value = current()?;
        services::log(LogLevel::Info, "counter ready", &[("value".into(), value.to_string())]);
        Ok(())
    }

    fn handle_message(msg: Message) -> Result<Option<Payload>, Error> {
        let command = String::from_utf8_lossy(&msg.payload.bytes).into_owned();
        match command.as_str() {
            "incr" => {
                let value = current()? + 1;
                storage::set(KEY, value.to_string().as_bytes())?;
                answer(value.to_string())
            }
            "get" => answer(current()?.to_string()),
            "reset" => {
                storage::delete(KEY)?;
                answer("0".into())
            }
            // A typed error for the caller; the instance keeps running.
            _ => Err(Error::InvalidArgument(format!(
                "unknown command '{command}' (use incr, get or reset)"
            ))),
        }
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
            name: "rust-counter".into(),
            version: "0.1.0".into(),
            description: "A counter kept in storage (Rust)".into(),
            labels: vec![],
        }
    }
}

export!(Counter);
