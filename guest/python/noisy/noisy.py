"""noisy: writes to stdout and stderr on command, for the guest-output tests (tests/e2e).

Requests: "raise <text>" raises an uncaught RuntimeError(<text>) (the call fails, the traceback
goes to stderr); "print <n>" prints n numbered lines to stdout; "stderr <text>" writes one line
to stderr; "version" replies with the interpreter's version; "hog" allocates without bound (the
memory-limit test every language shares, tests/e2e/example_guests.py)."""
import sys
from typing import List, Optional, Tuple

from wit_world import exports
from wit_world.imports import types

TEXT = 0x0F


def fail(text: str) -> None:
    raise RuntimeError(text)


class Lifecycle(exports.Lifecycle):
    def init(self, config: List[Tuple[str, str]]) -> None:
        pass

    def handle_message(self, msg: types.Message) -> Optional[types.Payload]:
        command, _, arg = msg.payload.bytes.decode(errors="replace").partition(" ")
        if command == "raise":
            fail(arg)
        elif command == "print":
            for i in range(int(arg)):
                print(f"noisy line {i}")
        elif command == "stderr":
            print(arg, file=sys.stderr)
        elif command == "version":
            return types.Payload(TEXT, sys.version.encode())
        elif command == "hog":
            held = []
            while True:
                held.append(bytearray(1 << 20))
        return types.Payload(TEXT, b"done")

    def handle_callback(self, response: types.Callback) -> None:
        pass

    def health(self) -> types.HealthStatus:
        return types.HealthStatus.HEALTHY

    def shutdown(self) -> None:
        pass

    def metadata(self) -> types.ComponentMetadata:
        return types.ComponentMetadata("py-noisy", "0.1.0", "Prints and raises on command", [])
