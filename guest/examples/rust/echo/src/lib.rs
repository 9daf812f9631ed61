//! echo: replies with the payload it receives, codec included. The Rust twin of
//! guest/examples/echo.c.
wit_bindgen::generate!({ path: "../../../../wit", world: "component" });

use capsule::core::types::{Callback, ComponentMetadata, Error, HealthStatus, Message, Payload};
use exports::capsule::core::lifecycle::Guest;

struct Echo;

impl Guest for Echo {
    fn init(_config: Vec<(String, String)>) -> Result<(), Error> {
        Ok(())
    }

    fn handle_message(msg: Message) -> Result<Option<Payload>, Error> {
        Ok(Some(msg.payload))
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
            name: "rust-echo".into(),
            version: "0.1.0".into(),
            description: "Replies with the payload it receives (Rust)".into(),
            labels: vec![],
        }
    }
}

export!(Echo);
