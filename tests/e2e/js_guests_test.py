#!/usr/bin/env python3
"""JavaScript guests (componentize-js), through a real `capsule run`.

One host runs the JavaScript examples (echo, storage counter, requester) and the JavaScript test
guest `noisy` (once more with a small memory limit to run out of it): the cases every language
shares (example_guests.py), and a thrown exception's message in the host log. The compiled
components are cached in the host's data dir between runs."""
import pathlib
import sys
import unittest
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import example_guests  # noqa: E402


class JavaScriptGuests(example_guests.ExampleGuestCases):
    LANG = "js"

    def test_a_thrown_exception_shows_its_message_in_the_host_log(self):
        marker = "boom-" + uuid.uuid4().hex
        err = self.assert_crash_restarts("throw " + marker, lambda line: marker in line)
        # componentize-js 0.23 tries to lower the uncaught Error as the `error` variant, fails,
        # prints that failure with the Error's text (not the Error's own stack) and aborts.
        self.assertTrue(any(("Error: " + marker) in line for line in err), err)


if __name__ == "__main__":
    example_guests.ExampleGuestCases.ARGS, rest = example_guests.parse_args()
    unittest.main(argv=[sys.argv[0], *rest])
