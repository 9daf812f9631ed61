"""requester: asks another component and keeps its reply.

Config: target = "ns/name/instance", timeout_ms (default 2000). A message "last" replies with the
outcome of the latest finished request ("reply: <payload>" or "error: <kind>: <text>", or
"none"); any other payload is sent to the target as a request, and the message is answered
"asked #<correlation id>". capsule's requests are asynchronous: the target's reply arrives later
in handle_callback, never as the return value of `messaging.request`.

State lives in module globals: componentize-py makes a fresh `Lifecycle` object for every export
call, so attributes set on `self` in init are gone by the next call."""
from typing import List, Optional, Tuple

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import messaging, services, types

TEXT = 0x0F  # multicodec utf-8 text


def parse_id(text: str) -> types.ComponentId:
    parts = text.split("/")
    if len(parts) != 3 or not all(parts):
        raise Err(types.Error_InvalidArgument(f"target must be ns/name/instance, not {text!r}"))
    return types.ComponentId(parts[0], parts[1], parts[2])


target: Optional[types.ComponentId] = None
timeout_ms = 2000
last = "none"


class Lifecycle(exports.Lifecycle):
    def init(self, config: List[Tuple[str, str]]) -> None:
        global target, timeout_ms
        settings = dict(config)
        target = parse_id(settings.get("target", ""))
        timeout_ms = int(settings.get("timeout_ms", "2000"))

    def handle_message(self, msg: types.Message) -> Optional[types.Payload]:
        if msg.payload.bytes == b"last":
            return types.Payload(TEXT, last.encode())
        assert target is not None  # init succeeded
        correlation = messaging.request(target, msg.payload, timeout_ms)
        return types.Payload(TEXT, f"asked #{correlation}".encode())

    def handle_callback(self, response: types.Callback) -> None:
        global last
        outcome = response.outcome
        if isinstance(outcome, Ok):
            last = "reply: " + outcome.value.bytes.decode(errors="replace")
        else:
            error = outcome.value
            last = f"error: {type(error).__name__.removeprefix('Error_').lower()}: {error.value}"
        services.log(types.LogLevel.INFO, "request finished",
                     [("correlation", str(response.correlation)), ("outcome", last)])

    def health(self) -> types.HealthStatus:
        return types.HealthStatus.HEALTHY

    def shutdown(self) -> None:
        pass

    def metadata(self) -> types.ComponentMetadata:
        return types.ComponentMetadata("py-requester", "0.1.0",
                                       "Asks another component and keeps its reply", [])
