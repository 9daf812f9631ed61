//! requester: asks another component and keeps its reply.
//!
//! Config: target = "ns/name/instance", timeout_ms (default 2000). A message "last" replies with
//! the outcome of the latest finished request ("reply: <payload>" or "error: <kind>: <text>", or
//! "none"); any other payload is sent to the target as a request, and the message is answered
//! "asked #<correlation id>". The reply arrives later in handle_callback. The Rust twin of
//! guest/examples/python/requester.
wit_bindgen::generate!({ path: "../../../../wit", world: "component" });

use std::cell::RefCell;

use capsule::core::types::{
    Callback, ComponentId, ComponentMetadata, Error, HealthStatus, LogLevel, Message, Payload,
};
use capsule::core::{messaging, services};
use exports::capsule::core::lifecycle::Guest;

const TEXT: u32 = 0x0f; // multicodec utf-8 text

/// An instance's state: the module instance is the actor's memory, and calls never overlap.
struct State {
    target: Option<ComponentId>,
    timeout_ms: u32,
    last: String,
}

thread_local! {
    static STATE: RefCell<State> =
        RefCell::new(State { target: None, timeout_ms: 2000, last: "none".into() });
}

fn describe(err: &Error) -> String {
    let (kind, text) = match err {
        Error::InvalidArgument(t) => ("invalid-argument", t),
        Error::NotFound(t) => ("not-found", t),
        Error::PermissionDenied(t) => ("permission-denied", t),
        Error::QuotaExceeded(t) => ("quota-exceeded", t),
        Error::Timeout(t) => ("timeout", t),
        Error::Cancelled(t) => ("cancelled", t),
        Error::Unavailable(t) => ("unavailable", t),
        Error::NotImplemented(t) => ("not-implemented", t),
        Error::Internal(t) => ("internal", t),
    };
    format!("{kind}: {text}")
}

fn text(body: String) -> Payload {
    Payload { codec: TEXT, bytes: body.into_bytes() }
}

struct Requester;

impl Guest for Requester {
    fn init(config: Vec<(String, String)>) -> Result<(), Error> {
        let setting = |key: &str| config.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let target = setting("target").unwrap_or_default();
        let parts: Vec<&str> = target.split('/').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(Error::InvalidArgument(format!(
                "target must be ns/name/instance, not '{target}'"
            )));
        }
        let timeout_ms = match setting("timeout_ms") {
            None => 2000,
            Some(t) => t.parse().map_err(|_| {
                Error::InvalidArgument(format!("timeout_ms must be a number of milliseconds, not '{t}'"))
            })?,
        };
        STATE.with_borrow_mut(|s| {
            s.target = Some(ComponentId {
                namespace: parts[0].into(),
                name: parts[1].into(),
                instance: parts[2].into(),
            });
            s.timeout_ms = timeout_ms;
        });
        Ok(())
    }

    fn handle_message(msg: Message) -> Result<Option<Payload>, Error> {
        if msg.payload.bytes == b"last" {
            return Ok(Some(text(STATE.with_borrow(|s| s.last.clone()))));
        }
        let (target, timeout_ms) = STATE.with_borrow(|s| (s.target.clone(), s.timeout_ms));
        let target = target.ok_or_else(|| Error::Internal("init did not run".into()))?;
        let correlation = messaging::request(&target, &msg.payload, timeout_ms)?;
        Ok(Some(text(format!("asked #{correlation}"))))
    }

    fn handle_callback(response: Callback) -> Result<(), Error> {
        let last = match &response.outcome {
            Ok(payload) => format!("reply: {}", String::from_utf8_lossy(&payload.bytes)),
            Err(err) => format!("error: {}", describe(err)),
        };
        services::log(
            LogLevel::Info,
            "request finished",
            &[("correlation".into(), response.correlation.to_string()), ("outcome".into(), last.clone())],
        );
        STATE.with_borrow_mut(|s| s.last = last);
        Ok(())
    }

    fn health() -> HealthStatus {
        HealthStatus::Healthy
    }

    fn shutdown() {}

    fn metadata() -> ComponentMetadata {
        ComponentMetadata {
            name: "rust-requester".into(),
            version: "0.1.0".into(),
            description: "Asks another component and keeps its reply (Rust)".into(),
            labels: vec![],
        }
    }
}

export!(Requester);
