//! wasi:keyvalue@0.2.0-draft (store, atomics, batch; the version Wasmtime 48, wasmCloud and
//! componentize-py guests target), answered by capsule's own storage.
//!
//! Nothing here stores anything: every call becomes one of the storage entries of the host vtable
//! that `capsule:core/storage` uses (`storage_get`, `storage_set`, ...), with the bucket's prefix
//! in front of the key. The C++ host therefore applies the same component space, capability
//! checks, quota, payload limit and serving window, on its I/O threads while the guest's call is
//! suspended: wasi:keyvalue is another spelling of capsule storage, not a way around it.
//!
//! Buckets: `open("default")` and `open("")` are the component's whole space (the keys
//! `capsule:core/storage` sees); any other name `b` (1-64 bytes of [A-Za-z0-9._-]) is the keys
//! under `b/`. A bucket is a prefix, so opening one costs nothing and creates nothing.
use wasmtime::component::{HasData, Linker, Resource, ResourceTable, ResourceTableError};
use wasmtime_c_api::WasmtimeStoreData;

use crate::ffi::capsule_bytes_t;
use crate::host::{capsule_answer_t, HostCalls};

mod generated {
    wasmtime::component::bindgen!({
        path: "../wasi-wit/keyvalue-0.2.0-draft",
        world: "wasi:keyvalue/imports",
        imports: { default: async },
        with: { "wasi:keyvalue/store.bucket": super::Bucket },
    });
}
use generated::wasi::keyvalue::{atomics, batch, store};
type Error = store::Error;

/// An open bucket: the key prefix inside the component's storage space.
pub struct Bucket {
    prefix: String,
}

/// Keys per `list-keys` page; the cursor is the offset of the next page.
const PAGE_KEYS: usize = 1000;
/// Keys one batch call may name: a guest cannot make the host queue unbounded work in one call.
const MAX_BATCH_KEYS: usize = 1000;
const MAX_BUCKET_NAME: usize = 64;

/// The capsule storage key prefix of a bucket name, or None for a name this host does not know.
fn bucket_prefix(identifier: &str) -> Option<String> {
    if identifier.is_empty() || identifier == "default" {
        return Some(String::new());
    }
    let valid = identifier.len() <= MAX_BUCKET_NAME
        && identifier.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    valid.then(|| format!("{identifier}/"))
}

/// capsule's error (the `wit_error` tag of types.wit's `error`) in wasi:keyvalue's terms: a
/// capability denial is `access-denied`, everything else `other` with the case named first, so
/// "quota-exceeded: storage quota of ... exceeded" reads the same as through capsule:core.
fn kv_error(tag: u8, text: &str) -> Error {
    const CASES: [&str; 9] = [
        "invalid-argument",
        "not-found",
        "permission-denied",
        "quota-exceeded",
        "timeout",
        "cancelled",
        "unavailable",
        "not-implemented",
        "internal",
    ];
    if tag == 2 {
        return Error::AccessDenied;
    }
    let case = CASES.get(usize::from(tag)).copied().unwrap_or("internal");
    Error::Other(format!("{case}: {text}"))
}

fn checked(mut a: capsule_answer_t) -> Result<capsule_answer_t, Error> {
    match a.error() {
        Some((tag, text)) => Err(kv_error(*tag, text)),
        None => Ok(std::mem::take(&mut a)),
    }
}

/// The per-store view the generated traits run on: the store's resource table (the WASI one;
/// every component that imports wasi:keyvalue imports WASI, so its store has it).
pub struct KeyValue<'a> {
    table: &'a mut ResourceTable,
}

struct KeyValueData;
impl HasData for KeyValueData {
    type Data<'a> = KeyValue<'a>;
}

pub fn add_to_linker(linker: &mut Linker<WasmtimeStoreData>) -> wasmtime::Result<()> {
    generated::Imports::add_to_linker::<WasmtimeStoreData, KeyValueData>(linker, |data| KeyValue {
        table: wasmtime_wasi::WasiView::ctx(data).table,
    })
}

impl KeyValue<'_> {
    /// The capsule storage key of `key` in `bucket`.
    fn key(&self, bucket: &Resource<Bucket>, key: &str) -> Result<String, Error> {
        let b = self.table.get(bucket).map_err(|e| Error::Other(format!("internal: {e}")))?;
        Ok(format!("{}{key}", b.prefix))
    }
}

// Free functions, not methods: the futures hold no borrow of the (not Sync) resource table.
async fn get_full(key: &str) -> Result<Option<Vec<u8>>, Error> {
    let a = HostCalls.ask_later(|v, h, p| (v.storage_get)(h, capsule_bytes_t::of(key.as_bytes()), p)).await;
    checked(a).map(|mut a| a.take_bytes())
}

async fn set_full(key: &str, value: &[u8]) -> Result<(), Error> {
    let a = HostCalls
        .ask_later(|v, h, p| (v.storage_set)(h, capsule_bytes_t::of(key.as_bytes()), capsule_bytes_t::of(value), p))
        .await;
    checked(a).map(|_| ())
}

async fn delete_full(key: &str) -> Result<(), Error> {
    let a = HostCalls.ask_later(|v, h, p| (v.storage_delete)(h, capsule_bytes_t::of(key.as_bytes()), p)).await;
    checked(a).map(|_| ())
}

fn batch_size(n: usize) -> Result<(), Error> {
    if n > MAX_BATCH_KEYS {
        return Err(Error::Other(format!(
            "invalid-argument: a batch of {n} keys (at most {MAX_BATCH_KEYS} per call)"
        )));
    }
    Ok(())
}

impl store::Host for KeyValue<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, Error> {
        let prefix = bucket_prefix(&identifier).ok_or(Error::NoSuchStore)?;
        self.table.push(Bucket { prefix }).map_err(|e| match e {
            ResourceTableError::Full => Error::Other(format!(
                "quota-exceeded: an instance holds at most {} open handles (buckets, streams, ...); \
                 drop some first",
                crate::stdio::MAX_GUEST_HANDLES
            )),
            e => Error::Other(format!("internal: {e}")),
        })
    }
}

impl store::HostBucket for KeyValue<'_> {
    async fn get(&mut self, bucket: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, Error> {
        let key = self.key(&bucket, &key)?;
        get_full(&key).await
    }

    async fn set(&mut self, bucket: Resource<Bucket>, key: String, value: Vec<u8>) -> Result<(), Error> {
        let key = self.key(&bucket, &key)?;
        set_full(&key, &value).await
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Result<(), Error> {
        let key = self.key(&bucket, &key)?;
        delete_full(&key).await
    }

    async fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> Result<bool, Error> {
        let key = self.key(&bucket, &key)?;
        let a = HostCalls.ask_later(|v, h, p| (v.storage_exists)(h, capsule_bytes_t::of(key.as_bytes()), p)).await;
        checked(a).map(|a| a.number() != 0)
    }

    async fn list_keys(&mut self, bucket: Resource<Bucket>, cursor: Option<u64>) -> Result<store::KeyResponse, Error> {
        let prefix = self.key(&bucket, "")?;
        let a = HostCalls
            .ask_later(|v, h, p| (v.storage_list_keys)(h, capsule_bytes_t::of(prefix.as_bytes()), p))
            .await;
        // Sorted by the backend, so an offset names the same place on the next call unless keys
        // came or went meanwhile (which the interface allows to show).
        let all = checked(a)?.take_strings();
        let start = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX).min(all.len());
        let end = start.saturating_add(PAGE_KEYS).min(all.len());
        let keys = all[start..end].iter().map(|k| k.strip_prefix(prefix.as_str()).unwrap_or(k).to_string()).collect();
        let cursor = (end < all.len()).then_some(end as u64);
        Ok(store::KeyResponse { keys, cursor })
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KeyValue<'_> {
    async fn increment(&mut self, bucket: Resource<Bucket>, key: String, delta: u64) -> Result<u64, Error> {
        let key = self.key(&bucket, &key)?;
        let a = HostCalls
            .ask_later(|v, h, p| (v.storage_increment)(h, capsule_bytes_t::of(key.as_bytes()), delta, p))
            .await;
        checked(a).map(|a| a.number())
    }
}

impl batch::Host for KeyValue<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, Error> {
        batch_size(keys.len())?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let full = self.key(&bucket, &key)?;
            out.push(get_full(&full).await?.map(|v| (key, v)));
        }
        Ok(out)
    }

    async fn set_many(&mut self, bucket: Resource<Bucket>, key_values: Vec<(String, Vec<u8>)>) -> Result<(), Error> {
        batch_size(key_values.len())?;
        for (key, value) in key_values {
            let full = self.key(&bucket, &key)?;
            set_full(&full, &value).await?;
        }
        Ok(())
    }

    async fn delete_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> Result<(), Error> {
        batch_size(keys.len())?;
        for key in keys {
            let full = self.key(&bucket, &key)?;
            delete_full(&full).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_map_to_prefixes() {
        assert_eq!(bucket_prefix("").as_deref(), Some(""));
        assert_eq!(bucket_prefix("default").as_deref(), Some(""));
        assert_eq!(bucket_prefix("cache").as_deref(), Some("cache/"));
        assert_eq!(bucket_prefix("a/b"), None);
        assert_eq!(bucket_prefix(&"x".repeat(65)), None);
    }

    #[test]
    fn denials_are_access_denied_and_the_rest_named() {
        assert!(matches!(kv_error(2, "no"), Error::AccessDenied));
        match kv_error(3, "storage quota of a/b exceeded") {
            Error::Other(t) => assert_eq!(t, "quota-exceeded: storage quota of a/b exceeded"),
            _ => panic!("not other"),
        }
        assert!(matches!(kv_error(200, "x"), Error::Other(t) if t.starts_with("internal: ")));
    }
}
