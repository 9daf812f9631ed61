#!/usr/bin/env python3
"""Enforces the layer rules of DESIGN.md by scanning #include lines.

Each layer may include only the layers listed for it, whether it names the header as
<capsule/layer/x.hpp>, "layer/x.hpp" or relatively ("../layer/x.hpp"). A bare "x.hpp" that is not
next to the including file but is another layer's private header (src/<layer>/x.hpp, reachable
through an include path) is refused too: a header of another layer is named with its folder, so
that this check sees the edge. wasmtime headers may be
included only by src/wasm (not even by include/capsule/wasm: users of the engine never see a raw
handle). The folders' actual include edges must also form no cycle, whatever ALLOWED says.
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
    "security": {"core"},
    "storage": {"core", "security"},
    "component": {"core", "rt", "wasm", "security", "storage"},
    "cluster": {"core", "rt", "wasm", "component", "security", "storage"},
    "manifest": {"core", "rt", "wasm", "component", "security", "storage"},
    "daemon": {"core", "rt", "wasm", "component", "security", "storage", "cluster", "manifest"},
    "cli": {"core", "rt", "wasm", "component", "security", "storage", "cluster", "manifest",
            "daemon"},
}
LAYERS = "|".join(ALLOWED)
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.MULTILINE)
QUOTED = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)
WASMTIME = re.compile(r"^(wasmtime(\.h|\.hh|/.*)|wasm\.h|wasm\.hh|wasi\.h)$")
SOURCES = {".h", ".hh", ".hpp", ".c", ".cc", ".cpp"}


def layer_of(path: pathlib.Path, root: pathlib.Path):
    rel = path.relative_to(root).parts
    if len(rel) >= 2 and rel[0] == "src":
        return rel[1], True
    if len(rel) >= 3 and rel[0] == "include" and rel[1] == "capsule":
        return rel[2], False
    return None, False


def target_layer(header: str, path: pathlib.Path, root: pathlib.Path):
    """The layer a quoted or angled include names, or None for a foreign header."""
    m = re.match(r"^capsule/([a-z_]+)/", header)
    if m:
        return m.group(1)
    m = re.match(rf"^({LAYERS})/", header)
    if m:
        return m.group(1)
    if header.startswith("../") or header.startswith("./"):
        resolved = (path.parent / header).resolve()
        try:
            target, _ = layer_of(resolved, root.resolve())
        except ValueError:  # outside the tree
            return None
        return target
    return None


def hidden_layer(header: str, path: pathlib.Path, root: pathlib.Path):
    """For a bare quoted "x.hpp" that is not next to `path`: the layers whose src/ folder has
    such a file (it would be found through an include path, by a name that hides its layer)."""
    if "/" in header or (path.parent / header).exists():
        return []
    return sorted(d.name for d in (root / "src").glob("*") if (d / header).is_file())


def find_cycle(edges):
    """A list of layers forming a cycle in `edges` (layer -> set of layers), or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, stack)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def check(root: pathlib.Path):
    errors = []
    edges = {}
    for path in sorted(p for p in root.rglob("*") if p.suffix in SOURCES and p.is_file()):
        layer, in_src = layer_of(path, root)
        if layer is None:
            continue
        rel = path.relative_to(root)
        if layer not in ALLOWED:
            errors.append(f"{rel}: folder '{layer}' is not a known layer; add it to ALLOWED")
            continue
        text = path.read_text(errors="replace")
        for header in QUOTED.findall(text):
            for other in hidden_layer(header, path, root):
                if other != layer:
                    errors.append(f"{rel}: includes \"{header}\" of src/{other} by its bare name; "
                                  f"write \"{other}/{header}\"")
        for header in INCLUDE.findall(text):
            if WASMTIME.match(header) and not (in_src and layer == "wasm"):
                errors.append(f"{rel}: includes <{header}>; only src/wasm may include wasmtime")
            target = target_layer(header, path, root)
            if target is None or target == layer:
                continue
            edges.setdefault(layer, set()).add(target)
            if target not in ALLOWED[layer]:
                errors.append(f"{rel}: layer '{layer}' may not include \"{header}\"")
    cycle = find_cycle(edges)
    if cycle:
        errors.append("include cycle between folders: " + " -> ".join(cycle))
    return errors


def self_test():
    cases = {
        "src/rt/bad.cpp": "#include <capsule/wasm/engine.hpp>\n",
        "src/rt/bad2.cpp": '#include "component/actor.hpp"\n',
        "src/core/bad.cpp": "#include <capsule/rt/actor.hpp>\n",
        "src/component/bad.cpp": "#include <wasmtime.hh>\n",
        "include/capsule/wasm/bad.hpp": "#include <wasmtime/component.hh>\n",
        "src/wasm/relative.cpp": '#include "../component/actor.hpp"\n',
        "src/storage/relative2.cpp": '#include "./../rt/x.hpp"\n',
        "src/odd/unknown.cpp": "#include <vector>\n",
        "src/manifest/up.cpp": '#include "../daemon/host_daemon.hpp"\n',
        "src/manifest/bare.cpp": '#include "host_daemon.hpp"\n',
        "src/daemon/host_daemon.hpp": '#include "../cli/main.hpp"\n',
    }
    good = {
        "src/wasm/ok.cpp": "#include <wasmtime.hh>\n#include <capsule/core/error.hpp>\n",
        "src/rt/ok.cpp": "#include <capsule/core/result.hpp>\n#include <vector>\n",
        "src/daemon/ok.cpp": '#include "host_daemon.hpp"\n#include "manifest/manifest.hpp"\n',
        "src/cli/ok.cpp": '#include "daemon/host_daemon.hpp"\n#include "admin_client.hpp"\n',
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
    # Two layers that are each allowed the other still may not include each other.
    cyclic = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    if find_cycle(cyclic) != ["a", "b", "c", "a"] or find_cycle({"a": {"b"}, "b": set()}):
        print("self-test failed: folder cycle detection")
        return 1
    print(f"self-test ok: {len(cases)} violations caught, {len(good)} clean files accepted, "
          "cycles found")
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
