"""hello: the HTTP trigger's hello world in Python (docs/http.md), the twin of
guest/examples/hello.c: replies "hello, <body>" as text, or "hello, world" to an empty body."""
from typing import List, Optional, Tuple

from wit_world import exports
from wit_world.imports import types

TEXT = 0x0F  # multicodec: capsule's utf-8 text


class Lifecycle(exports.Lifecycle):
    def init(self, config: List[Tuple[str, str]]) -> None:
        pass

    def handle_message(self, msg: types.Message) -> Optional[types.Payload]:
        name = bytes(msg.payload.bytes) or b"world"
        return types.Payload(TEXT, b"hello, " + name + b"\n")

    def handle_callback(self, response: types.Callback) -> None:
        pass

    def health(self) -> types.HealthStatus:
        return types.HealthStatus.HEALTHY

    def shutdown(self) -> None:
        pass

    def metadata(self) -> types.ComponentMetadata:
        return types.ComponentMetadata("py-hello", "0.1.0", "Says hello to the request body", [])
