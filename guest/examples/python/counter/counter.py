"""counter: a per-component counter kept in capsule's storage, so it survives restarts.

Requests: "incr" adds one and replies with the new value, "get" replies with the value,
"reset" deletes it. The Python twin of guest/examples/ledger.c's storage use."""
from typing import List, Optional, Tuple

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import services, storage, types

KEY = "count"
TEXT = 0x0F  # multicodec utf-8 text


def current() -> int:
    value = storage.get(KEY)  # raises Err(types.Error) when the host refuses
    return int(value.decode()) if value is not None else 0


def reply(text: str) -> types.Payload:
    return types.Payload(TEXT, text.encode())


class Lifecycle(exports.Lifecycle):
    def init(self, config: List[Tuple[str, str]]) -> None:
        services.log(types.LogLevel.INFO, "counter ready", [("value", str(current()))])

    def handle_message(self, msg: types.Message) -> Optional[types.Payload]:
        command = msg.payload.bytes.decode(errors="replace")
        if command == "incr":
            value = current() + 1
            storage.set(KEY, str(value).encode())
            return reply(str(value))
        if command == "get":
            return reply(str(current()))
        if command == "reset":
            storage.delete(KEY)
            return reply("0")
        # A typed error for the caller; the instance keeps running.
        raise Err(types.Error_InvalidArgument(f"unknown command {command!r} (use incr, get or reset)"))

    def handle_callback(self, response: types.Callback) -> None:
        pass

    def health(self) -> types.HealthStatus:
        return types.HealthStatus.HEALTHY

    def shutdown(self) -> None:
        pass

    def metadata(self) -> types.ComponentMetadata:
        return types.ComponentMetadata("py-counter", "0.1.0", "A counter kept in storage", [])
