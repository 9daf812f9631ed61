"""echo: replies to every request with the payload it received (codec and bytes unchanged).

The Python twin of guest/examples/echo.c, built by capsule_add_python_component."""
from typing import List, Optional, Tuple

from wit_world import exports
from wit_world.imports import types


class Lifecycle(exports.Lifecycle):
    def init(self, config: List[Tuple[str, str]]) -> None:
        pass

    def handle_message(self, msg: types.Message) -> Optional[types.Payload]:
        return msg.payload

    def handle_callback(self, response: types.Callback) -> None:
        pass

    def health(self) -> types.HealthStatus:
        return types.HealthStatus.HEALTHY

    def shutdown(self) -> None:
        pass

    def metadata(self) -> types.ComponentMetadata:
        return types.ComponentMetadata("py-echo", "0.1.0", "Replies with the payload it receives", [])
