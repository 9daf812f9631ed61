"""store: keeps the text items it receives (newest last) and answers queries sent as requests:
"count" -> number of items, "last" -> newest item, "list" -> all, one per line. Items are plain
messages; queries are requests (they carry a correlation id).

The Python twin of guest/examples/store.c: the last stage of the polyglot pipeline
(examples/pipeline/polyglot.toml: C ingest -> Go transform -> Python store).

State lives in module globals: componentize-py makes a fresh `Lifecycle` object for every export
call."""
from typing import List, Optional, Tuple

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

TEXT = 0x0F  # multicodec utf-8 text

items: List[str] = []


def text(body: str) -> types.Payload:
    return types.Payload(TEXT, body.encode())


class Lifecycle(exports.Lifecycle):
    def init(self, config: List[Tuple[str, str]]) -> None:
        pass

    def handle_message(self, msg: types.Message) -> Optional[types.Payload]:
        body = msg.payload.bytes.decode(errors="replace")
        if msg.correlation is None:
            items.append(body)
            return None
        if body == "count":
            return text(str(len(items)))
        if body == "last":
            return text(items[-1] if items else "")
        if body == "list":
            return text("".join(item + "\n" for item in items))
        raise Err(types.Error_InvalidArgument("unknown query (use count, last or list)"))

    def handle_callback(self, response: types.Callback) -> None:
        pass

    def health(self) -> types.HealthStatus:
        return types.HealthStatus.HEALTHY

    def shutdown(self) -> None:
        pass

    def metadata(self) -> types.ComponentMetadata:
        return types.ComponentMetadata("py-store", "0.1.0",
                                       "Keeps items and answers count/last/list queries", [])
