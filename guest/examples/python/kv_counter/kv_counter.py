"""kv_counter: a counter kept through wasi:keyvalue (store + atomics), not capsule:core's storage,
so the same code runs on any host that offers wasi:keyvalue; capsule keeps it in the component's
own storage space, where it survives restarts of the instance and of the host.

Its settings come from wasi:config (the manifest's [component.config]: `bucket`, `key`) and its
start-up line goes out through wasi:logging. Requests: "incr" adds one (atomics.increment) and
replies with the new value, "get" replies with the value, "crash" raises (the instance traps and
its supervisor restarts it)."""
from typing import List, Optional, Tuple

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import atomics, logging, types
from wit_world.imports import wasi_config_store as config
from wit_world.imports import wasi_keyvalue_store as kv

TEXT = 0x0F  # multicodec utf-8 text


def setting(name: str, default: str) -> str:
    value = config.get(name)
    return value if value is not None else default


def bucket() -> kv.Bucket:
    return kv.open(setting("bucket", "default"))


def describe(error: kv.Error) -> str:
    if isinstance(error, kv.Error_NoSuchStore):
        return "no-such-store"
    if isinstance(error, kv.Error_AccessDenied):
        return "access-denied"
    return f"other: {error.value}"


def reply(text: str) -> types.Payload:
    return types.Payload(TEXT, text.encode())


class Lifecycle(exports.Lifecycle):
    def init(self, config_pairs: List[Tuple[str, str]]) -> None:
        try:
            with bucket() as b:
                value = b.get(setting("key", "count"))
            text = value.decode() if value is not None else "0"
        except Err as e:  # no storage grants, storage down: start anyway, say so
            text = f"unknown value ({describe(e.value)})"
        logging.log(logging.Level.INFO, "kv_counter", f"ready with {text}")

    def handle_message(self, msg: types.Message) -> Optional[types.Payload]:
        command = msg.payload.bytes.decode(errors="replace")
        key = setting("key", "count")
        with bucket() as b:
            try:
                if command == "incr":
                    return reply(str(atomics.increment(b, key, 1)))
                if command == "get":
                    value = b.get(key)
                    return reply(value.decode() if value is not None else "0")
            except Err as e:
                # A wasi:keyvalue error (access denied, quota, storage down): the caller's error.
                raise Err(types.Error_Unavailable(f"wasi:keyvalue: {describe(e.value)}"))
        if command == "crash":
            raise RuntimeError("crash requested")
        raise Err(types.Error_InvalidArgument(f"unknown command {command!r} (use incr, get or crash)"))

    def handle_callback(self, response: types.Callback) -> None:
        pass

    def health(self) -> types.HealthStatus:
        return types.HealthStatus.HEALTHY

    def shutdown(self) -> None:
        pass

    def metadata(self) -> types.ComponentMetadata:
        return types.ComponentMetadata("py-kv-counter", "0.1.0", "A counter kept through wasi:keyvalue", [])
