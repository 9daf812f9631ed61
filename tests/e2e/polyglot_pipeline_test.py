#!/usr/bin/env python3
"""The pipeline demo with its stages in three languages (examples/pipeline/polyglot.toml): a C
ingest forwards to a Go transform, which uppercases and forwards to a Python store. Through a real
`capsule run`: every reading sent arrives uppercased and in order, except the two the flaky Go
stage panics on (its supervisor restarts it, the panic's stack is in the host log), and the host
shuts down cleanly."""
import pathlib
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import capsule_process  # noqa: E402
from capsule_process import HostProcess, capsule, wait_for  # noqa: E402

ARGS = None
ROOT = pathlib.Path(__file__).resolve().parents[2]


class PolyglotPipeline(unittest.TestCase):
    def test_readings_flow_from_c_through_go_to_python(self):
        with tempfile.TemporaryDirectory() as tmp:
            # The repository's manifest, with the components of this build.
            text = (ROOT / "examples/pipeline/polyglot.toml").read_text()
            text = text.replace('components_dir = "../../build/release/components"',
                                f'components_dir = "{pathlib.Path(ARGS.components).resolve()}"')
            self.assertIn(str(pathlib.Path(ARGS.components).resolve()), text)
            manifest = pathlib.Path(tmp) / "polyglot.toml"
            manifest.write_text(text)
            if ARGS.cache_dir:
                pathlib.Path(ARGS.cache_dir).mkdir(parents=True, exist_ok=True)
                (pathlib.Path(tmp) / ".capsule-polyglot").mkdir()
                (pathlib.Path(tmp) / ".capsule-polyglot" / "cache").symlink_to(
                    pathlib.Path(ARGS.cache_dir).resolve())
            host = HostProcess(manifest, ready_timeout=600)
            try:
                for i in range(1, 21):
                    capsule("send", "demo/ingest/0", f"reading-{i}", admin=host.admin)
                # Messages 7 and 14 reach the transform's panics and are lost with them.
                self.assertTrue(wait_for(lambda: capsule("call", "demo/store/0", "count",
                                                         admin=host.admin).stdout.strip() == "18",
                                         60))
                items = capsule("call", "demo/store/0", "list", admin=host.admin).stdout.split()
                self.assertEqual(items, [f"READING-{i}|INGESTED" for i in range(1, 21)
                                         if i not in (7, 14)])
                bad = capsule("call", "demo/store/0", "sum", admin=host.admin, check=False)
                self.assertNotEqual(bad.returncode, 0)
                self.assertIn("unknown query", bad.stderr)
            finally:
                code = host.terminate()
            self.assertEqual(code, 0, "".join(host.lines[-20:]))
            log = "".join(host.lines)
            self.assertEqual(log.count("panic: transform: failing on purpose on message 7"), 2, log)
            self.assertIn("export_capsule_core_lifecycle.HandleMessage", log)
            # (The second trap's line is folded into a "[repeated ...]" summary by the log filter.)
            self.assertIn('"msg":"trap: component demo/transform/0', log)


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache-dir", help="compile cache kept between runs")
    ARGS, rest = capsule_process.parse_args(parser)
    if shutil.which(str(capsule_process.CAPSULE)) is None and not pathlib.Path(capsule_process.CAPSULE).exists():
        sys.exit(f"no capsule binary at {capsule_process.CAPSULE}")
    unittest.main(argv=[sys.argv[0], *rest])
