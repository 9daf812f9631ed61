#!/usr/bin/env python3
"""Rust guests (Debian's rustc-web with -Zbuild-std for wasm32-wasip1, bindings from the
wit-bindgen crate), through a real `capsule run`.

One host runs the Rust examples (echo, storage counter, requester) and the Rust test guest `noisy`
(once more with a small memory limit to run out of it): the cases every language shares
(example_guests.py), and a panic's message and location in the host log. The compiled components
are cached in the host's data dir between runs."""
import pathlib
import sys
import unittest
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import example_guests  # noqa: E402


class RustGuests(example_guests.ExampleGuestCases):
    LANG = "rust"

    def test_a_panic_shows_its_message_and_location_in_the_host_log(self):
        marker = "boom-" + uuid.uuid4().hex
        err = self.assert_crash_restarts("panic " + marker, lambda line: line == marker)
        # Rust's panic hook prints where it panicked, then the message.
        self.assertTrue(any("panicked at " in line and "noisy/src/lib.rs:" in line for line in err),
                        err)


if __name__ == "__main__":
    example_guests.ExampleGuestCases.ARGS, rest = example_guests.parse_args()
    unittest.main(argv=[sys.argv[0], *rest])
