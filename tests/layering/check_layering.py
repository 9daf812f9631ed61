#!/usr/bin/env python3
"""Enforces the layer rules of DESIGN.md by scanning #include lines.

Each layer may include only the layers listed for it. wasmtime headers may be included only by
src/wasm (not even by include/capsule/wasm: users of the engine never see a raw handle).
Run with --self-test to prove the checker rejects each kind of violation.
"""
import pathlib
import re
import sys
import tempfile

# layer -> layers it may include (besides itself)
ALLOWED = {
    "core": set(),
    "rt": {"core"},
    "wasm": {"core"},
    "component": {"core", "rt", "wasm", "host", "security", "storage"},
    "host": {"core", "rt", "wasm", "component", "security", "storage"},
    "security": {"core", "rt", "wasm", "component", "storage"},
    "storage": {"core", "rt", "security"},
    "cluster": {"core", "rt", "wasm", "component", "host", "security", "storage"},
    "cli": {"core", "rt", "wasm", "component", "host", "security", "storage", "cluster"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.MULTILINE)
WASMTIME = re.compile(r"^(wasmtime(\.h|\.hh|/.*)|wasm\.h|wasm\.hh|wasi\.h)$")
SOURCES = {".h", ".hh", ".hpp", ".c", ".cc", ".cpp"}


def layer_of(path: pathlib.Path, root: pathlib.Path):
    rel = path.relative_to(root).parts
    if len(rel) >= 2 and rel[0] == "src":
        return rel[1], True
    if len(rel) >= 3 and rel[0] == "include" and rel[1] == "capsule":
        return rel[2], False
    return None, False


def check(root: pathlib.Path):
    errors = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in SOURCES and p.is_file()):
        layer, in_src = layer_of(path, root)
        if layer is None or layer not in ALLOWED:
            continue
        text = path.read_text(errors="replace")
        for header in INCLUDE.findall(text):
            rel = path.relative_to(root)
            if WASMTIME.match(header) and not (in_src and layer == "wasm"):
                errors.append(f"{rel}: includes <{header}>; only src/wasm may include wasmtime")
            m = re.match(r"^capsule/([a-z_]+)/", header)
            if m and m.group(1) != layer and m.group(1) not in ALLOWED[layer]:
                errors.append(f"{rel}: layer '{layer}' may not include <{header}>")
            local = re.match(r"^(wasm|component|host|security|storage|cluster|rt|core)/", header)
            if local and local.group(1) != layer and local.group(1) not in ALLOWED[layer]:
                errors.append(f"{rel}: layer '{layer}' may not include \"{header}\"")
    return errors


def self_test():
    cases = {
        "src/rt/bad.cpp": "#include <capsule/wasm/engine.hpp>\n",
        "src/rt/bad2.cpp": '#include "component/actor.hpp"\n',
        "src/core/bad.cpp": "#include <capsule/rt/actor.hpp>\n",
        "src/component/bad.cpp": "#include <wasmtime.hh>\n",
        "include/capsule/wasm/bad.hpp": "#include <wasmtime/component.hh>\n",
    }
    good = {
        "src/wasm/ok.cpp": "#include <wasmtime.hh>\n#include <capsule/core/error.hpp>\n",
        "src/rt/ok.cpp": "#include <capsule/core/result.hpp>\n#include <vector>\n",
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        for rel, text in {**cases, **good}.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        errors = check(root)
    flagged = {e.split(":")[0] for e in errors}
    missing = set(cases) - flagged
    wrong = set(good) & flagged
    if missing or wrong:
        print(f"self-test failed: missed {sorted(missing)}, wrongly flagged {sorted(wrong)}")
        return 1
    print(f"self-test ok: {len(cases)} violations caught, {len(good)} clean files accepted")
    return 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test()
    root = pathlib.Path(argv[1] if len(argv) > 1 else ".").resolve()
    errors = check(root)
    for e in errors:
        print(e)
    print(f"layering: {len(errors)} violation(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
