#!/usr/bin/env python3
"""Go guests (the machine's Go, GOOS=wasip1, bindings from `wit-bindgen go`), through a real
`capsule run`.

One host runs the Go examples (echo, storage counter, requester) and the Go test guest `noisy`
(twice, and once more with a small memory limit to run out of it): the cases every language
shares (example_guests.py), a panic's message and goroutine stack in the host log, and a heap
grown past the memory the WASI adapter would otherwise take. The compiled components are cached
in the host's data dir between runs."""
import pathlib
import sys
import unittest
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import example_guests  # noqa: E402


class GoGuests(example_guests.ExampleGuestCases):
    LANG = "go"
    NOISY_INSTANCES = 2  # go/noisy/1 grows its heap, away from the panics of go/noisy/0

    def test_a_panic_shows_its_message_and_stack_in_the_host_log(self):
        marker = "boom-" + uuid.uuid4().hex
        err = self.assert_crash_restarts("panic " + marker, lambda line: marker in line)
        # The Go runtime prints the panic and the goroutine's stack, frames named.
        self.assertIn("panic: " + marker, err)
        self.assertTrue(any("export_capsule_core_lifecycle.fail" in line for line in err), err)
        self.assertTrue(any("HandleMessage" in line for line in err), err)

    def test_a_heap_grown_past_the_start_keeps_wasi_working(self):
        # The Go heap grows through the memory above Go's data, where the WASI adapter's pages
        # would be if it took them with memory.grow: output and clocks must still work after.
        noisy = self.id_of("noisy", 1)
        self.assertEqual(self.call(noisy, "grow 12").stdout.strip(), "holding 12 MiB")
        marker = uuid.uuid4().hex
        self.call(noisy, "stderr after growing " + marker)
        self.wait_log(lambda e: e.get("component") == noisy
                      and e.get("msg") == f"guest stderr: after growing {marker}")
        self.assertEqual(self.call(noisy, "grow 4").stdout.strip(), "holding 16 MiB")


if __name__ == "__main__":
    example_guests.ExampleGuestCases.ARGS, rest = example_guests.parse_args()
    unittest.main(argv=[sys.argv[0], *rest])
