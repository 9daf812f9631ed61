#!/usr/bin/env python3
"""clang-tidy over the given sources, skipping those whose translation unit it already passed.

A full run takes ~9 min of a 2-core machine (121 files at ~9 s of CPU each), most of the CI
budget's lint share, and nearly all of it re-checks code nobody changed. A file passes once per
*input*: the key is a SHA-256 of everything clang-tidy sees for it - the preprocessed translation
unit (`g++ -E -P` with the file's own compile command, so every header it includes is in it), the
compile flags with the source and build paths taken out, the .clang-tidy text and the clang-tidy
version. A file whose key has a stamp in the cache passed before and is not run again; every
other file is run, and a stamp is written only when it passes (exit 0 with WarningsAsErrors).
A failing file is never cached, so it fails again on the next run.

  clang_tidy_cached.py --build build/release --root . [--cache DIR] [--jobs 2] FILE...

The cache is $CAPSULE_TIDY_CACHE, else ~/.cache/capsule/clang-tidy (kept with the other caches
scripts/test.sh keeps); stamps not used for 30 days are removed. CAPSULE_TIDY_CACHE=off runs
every file.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import pathlib
import shlex
import subprocess
import sys
import time

CLANG_TIDY = "clang-tidy-19"
STALE_SECONDS = 30 * 24 * 3600


def compile_commands(build):
    entries = json.loads((build / "compile_commands.json").read_text())
    out = {}
    for e in entries:
        path = pathlib.Path(e["directory"], e["file"]).resolve()
        args = e.get("arguments") or shlex.split(e["command"])
        out[path] = (e["directory"], args)
    return out


def preprocess_args(args):
    """The compile command turned into `-E -P -o -` (no object file, no line markers)."""
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a.startswith("-o"):
            continue
        out.append(a)
    return out + ["-E", "-P", "-o", "-"]


def key_of(path, directory, args, root, build, fixed):
    """The cache key of one file, or None when it cannot be preprocessed (then it is linted)."""
    pre = subprocess.run(preprocess_args(args), cwd=directory, capture_output=True)
    if pre.returncode != 0:
        return None
    h = hashlib.sha256(fixed)
    # The flags without the paths that differ between checkouts (-I/-isystem of the tree stay
    # in as relative paths, and the preprocessed text covers what they found).
    flags = " ".join(args[1:]).replace(str(build), "<build>").replace(str(root), "<root>")
    h.update(flags.encode())
    h.update(str(path.relative_to(root)).encode())
    h.update(pre.stdout)
    return h.hexdigest()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", required=True, type=pathlib.Path)
    p.add_argument("--root", required=True, type=pathlib.Path)
    p.add_argument("--cache", type=pathlib.Path)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("files", nargs="+", type=pathlib.Path)
    opts = p.parse_args()
    root = opts.root.resolve()
    build = opts.build.resolve()
    env_cache = os.environ.get("CAPSULE_TIDY_CACHE", "")
    cache = None
    if env_cache != "off":
        cache = opts.cache or (pathlib.Path(env_cache) if env_cache else
                               pathlib.Path.home() / ".cache/capsule/clang-tidy")
        cache.mkdir(parents=True, exist_ok=True)

    version = subprocess.run([CLANG_TIDY, "--version"], capture_output=True, text=True,
                             check=True).stdout
    fixed = (version + (root / ".clang-tidy").read_text()).encode()
    commands = compile_commands(build)

    def check(path):
        path = path.resolve()
        if path not in commands:
            return path, "failed", f"{path}: not in {build}/compile_commands.json\n"
        directory, args = commands[path]
        key = key_of(path, directory, args, root, build, fixed) if cache else None
        stamp = cache / key if key else None
        if stamp and stamp.exists():
            stamp.touch()
            return path, "cached", ""
        run = subprocess.run([CLANG_TIDY, "--quiet", f"-p={build}", str(path)],
                             capture_output=True, text=True)
        if run.returncode != 0:
            return path, "failed", run.stdout + run.stderr
        if stamp:
            stamp.write_text(str(path.relative_to(root)) + "\n")
        return path, "passed", ""

    started = time.monotonic()
    counts = {"cached": 0, "passed": 0, "failed": 0}
    with concurrent.futures.ThreadPoolExecutor(max_workers=opts.jobs) as pool:
        for path, outcome, output in pool.map(check, opts.files):
            counts[outcome] += 1
            if outcome == "failed":
                sys.stdout.write(f"--- clang-tidy failed: {path}\n{output}")
    if cache:
        now = time.time()
        for stamp in cache.iterdir():
            if now - stamp.stat().st_mtime > STALE_SECONDS:
                stamp.unlink(missing_ok=True)
    print(f"clang-tidy: {len(opts.files)} files: {counts['passed']} checked and clean, "
          f"{counts['cached']} unchanged since they passed (cache {cache or 'off'}), "
          f"{counts['failed']} failed; {time.monotonic() - started:.0f} s")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
