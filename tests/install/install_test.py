"""Installing capsule and using what it installs (tests/install/CMakeLists.txt registers each mode):

  prefix        `cmake --install <build> --prefix <prefix>` into an emptied prefix, then the layout
  embedding     examples/embedding configured with only CMAKE_PREFIX_PATH=<prefix>, built, run
  new-refusals  `capsule new` with a bad language, a bad name, an existing directory; --help
  new           `capsule new <language> <name>` with the prefix's binary; the project is built as
                it is (no -DCMAKE_PREFIX_PATH) and run with `capsule run capsule.toml`
  deb           `cpack -G DEB` into --work; its file list and its Depends against ldd

Every step is bounded in time; a failure says which step and shows its output."""
import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "e2e"))
import capsule_process  # noqa: E402

CMAKE = "cmake"  # --cmake: the cmake that configured the build tree


def run(cmd, timeout, cwd=None, env=None, check=True):
    """Runs `cmd`; on failure (when `check`) raises with its output."""
    print("$", " ".join(str(c) for c in cmd), flush=True)
    start = time.monotonic()
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    print(f"  ({time.monotonic() - start:.1f} s)", flush=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd[0]} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def clean_env():
    """The environment without anything that would point CMake or the CLI somewhere else: what
    a project finds, it must find by itself."""
    return {k: v for k, v in os.environ.items()
            if k not in ("CMAKE_PREFIX_PATH", "capsule_DIR", "CAPSULE_ADMIN", "CAPSULE_DATA_DIR",
                         "CAPSULE_ADMIN_TOKEN")}


def check_layout(files, source):
    """`files`: installed paths relative to the prefix (/usr for the .deb). Asserts the binary,
    the package, the libraries and share/capsule are there, and that the headers are exactly the
    public ones (include/capsule/**): no private header of src/ is installed or needed."""
    files = set(files)
    lib = next((f.rsplit("/cmake/capsule/", 1)[0] for f in files
                if f.endswith("/cmake/capsule/capsuleConfig.cmake")), None)
    assert lib, "no <libdir>/cmake/capsule/capsuleConfig.cmake installed"
    # Debian's multiarch directory, as its policy wants for a package's libraries (the .deb's
    # prefix /usr included), not lib/.
    multiarch = run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], timeout=30).stdout.strip()
    assert lib == f"lib/{multiarch}", f"libraries installed in {lib}, not lib/{multiarch}"
    expected = {"bin/capsule",
                f"{lib}/cmake/capsule/capsuleConfigVersion.cmake",
                f"{lib}/cmake/capsule/capsuleTargets.cmake",
                f"{lib}/libcapsule_wasmtime_capi.a",
                "share/capsule/cmake/CapsuleGuest.cmake",
                "share/capsule/guest/sdk/include/capsule/guest.h",
                "share/capsule/guest/sdk/include/capsule/guest.hpp",
                "share/capsule/guest/sdk/src/capsule_guest.c",
                "share/capsule/adapter/wasi_snapshot_preview1.reactor.wasm",
                "share/capsule/third_party/wasi-wit/0.2.12/world.wit"}
    expected |= {f"{lib}/libcapsule_{n}.a"
                 for n in ("core", "rt", "wasm", "security", "storage", "component", "cluster")}
    expected |= {"share/capsule/wit/" + str(p.relative_to(source / "wit"))
                 for p in (source / "wit").rglob("*.wit")}
    missing = sorted(expected - files)
    assert not missing, f"not installed: {missing}"
    public = {"include/" + str(p.relative_to(source / "include"))
              for p in (source / "include").rglob("*.hpp")}
    headers = {f for f in files if f.startswith("include/")}
    assert headers == public, (f"installed headers differ from include/: extra "
                               f"{sorted(headers - public)}, missing {sorted(public - headers)}")
    print(f"layout ok: {len(files)} files, {len(headers)} public headers, libdir {lib}")


def cmd_prefix(args):
    shutil.rmtree(args.prefix, ignore_errors=True)
    run([CMAKE, "--install", args.build, "--prefix", args.prefix], timeout=100)
    files = [str(p.relative_to(args.prefix)) for p in args.prefix.rglob("*") if p.is_file()]
    check_layout(files, args.source)


def check_walkthrough(source):
    """docs/embedding.md shows the example's program as it is: its C++ block is main.cpp without
    the file's opening comment."""
    doc = (source / "docs" / "embedding.md").read_text()
    shown = re.search(r"```cpp\n(.*?)```", doc, re.S).group(1)
    program = (source / "examples" / "embedding" / "main.cpp").read_text()
    program = program[program.index("#include"):]
    assert shown == program, "docs/embedding.md's program differs from examples/embedding/main.cpp"


def cmd_embedding(args):
    check_walkthrough(args.source)
    shutil.rmtree(args.work, ignore_errors=True)
    build = args.work / "build"
    configure = [CMAKE, "-S", args.source / "examples" / "embedding", "-B", build, "-G", "Ninja",
                 f"-DCMAKE_PREFIX_PATH={args.prefix}", f"-DCMAKE_CXX_COMPILER={args.cxx}",
                 "-DCMAKE_BUILD_TYPE=Release"]
    if args.cxx_flags:
        configure += [f"-DCMAKE_CXX_FLAGS={args.cxx_flags}",
                      f"-DCMAKE_EXE_LINKER_FLAGS={args.cxx_flags}"]
    if args.launcher:
        configure.append(f"-DCMAKE_CXX_COMPILER_LAUNCHER={args.launcher}")
    run(configure, timeout=60, env=clean_env())
    # Only the prefix may provide capsule: the configure must have found it there.
    cache = (build / "CMakeCache.txt").read_text()
    found = re.search(r"^capsule_DIR:PATH=(.*)$", cache, re.M).group(1)
    assert pathlib.Path(found).resolve().is_relative_to(args.prefix.resolve()), found
    run([CMAKE, "--build", build], timeout=300)
    # Every installed header compiles from the prefix alone (with the system's Asio): one
    # translation unit that includes them all, syntax only.
    headers = sorted((args.prefix / "include").rglob("*.hpp"))
    everything = args.work / "all_headers.cpp"
    everything.write_text("".join(f'#include "{h}"\n' for h in headers))
    run([args.cxx, "-std=c++20", "-fsyntax-only", "-DASIO_STANDALONE", "-DASIO_NO_DEPRECATED",
         f"-I{args.prefix / 'include'}", everything], timeout=300)
    message = f"embedded hello {uuid.uuid4().hex[:8]}"
    r = run([build / "embed-echo", args.component, message], timeout=60)
    assert r.stdout.strip() == f"demo/echo/0 replied: {message}", r.stdout + r.stderr
    print("embedding ok:", r.stdout.strip())


def capsule_bin(args):
    return args.prefix / "bin" / "capsule"


def cmd_new_refusals(args):
    work = pathlib.Path(tempfile.mkdtemp(prefix="capsule-new-"))
    try:
        def new(*argv):
            return run([capsule_bin(args), "new", *argv], timeout=30, cwd=work, check=False)

        r = new("--help")
        assert r.returncode == 0 and "c, cpp, python or js" in r.stdout, r.stdout + r.stderr
        r = new("rust", "demo")
        assert r.returncode != 0 and "unknown language 'rust'" in r.stderr, r.stderr
        assert "c, cpp, python, js" in r.stderr, r.stderr
        for bad in ("Demo", "9lives", "my app", "a/b", "..", "x" * 65):
            r = new("c", bad)
            assert r.returncode != 0 and "bad project name" in r.stderr, (bad, r.stderr)
        (work / "taken").mkdir()
        (work / "taken" / "keep.txt").write_text("mine")
        r = new("c", "taken")
        assert r.returncode != 0 and "already exists" in r.stderr, r.stderr
        assert [p.name for p in (work / "taken").iterdir()] == ["keep.txt"]
        (work / "dangling").symlink_to(work / "nowhere")
        r = new("c", "dangling")
        assert r.returncode != 0 and "already exists" in r.stderr, r.stderr
        assert not (work / "nowhere").exists()
        assert sorted(p.name for p in work.iterdir()) == ["dangling", "taken"], \
            "a refused `capsule new` wrote something"
        print("refusals ok")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cmd_new(args):
    name = f"hello-{args.language}"
    # Under /tmp: the admin socket's path must stay short (108 bytes).
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"capsule-new-{args.language}-"))
    try:
        r = run([capsule_bin(args), "new", args.language, name], timeout=30, cwd=work,
                env=clean_env())
        project = work / name
        assert (project / "capsule.toml").is_file() and (project / "README.md").is_file(), r.stdout
        # Built as it is: no prefix given, the project finds capsule where `capsule new` came from.
        build = project / "build"
        run([CMAKE, "-S", project, "-B", build, "-G", "Ninja"], timeout=60, env=clean_env())
        run([CMAKE, "--build", build], timeout=400, env=clean_env())
        assert (build / "components" / f"{name}.wasm").is_file()
        capsule_process.CAPSULE = str(capsule_bin(args))
        start = time.monotonic()
        host = capsule_process.HostProcess(project / "capsule.toml", ready_timeout=400)
        print(f"host ready in {time.monotonic() - start:.1f} s", flush=True)
        try:
            message = f"hi {uuid.uuid4().hex[:8]}"
            # As the README says: from the project directory, with no admin option.
            r = capsule_process.capsule("call", f"app/{name}", message, cwd=project, timeout=60)
            assert r.stdout == f"hello from {name}: {message}\n", r.stdout
            print("reply:", r.stdout.strip())
        finally:
            code = host.terminate()
        assert code == 0, "".join(host.lines)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def owner_package(path):
    """The Debian package that owns a library ldd resolved (usr-merged paths tried both ways)."""
    candidates = [path, os.path.realpath(path)]
    candidates += [p.removeprefix("/usr") if p.startswith("/usr/") else "/usr" + p
                   for p in list(candidates)]
    for p in candidates:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0].strip()
    raise AssertionError(f"no package owns {path}")


def cmd_deb(args):
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    run([args.cpack, "-G", "DEB", "--config", args.build / "CPackConfig.cmake", "-B", args.work],
        timeout=300)
    shutil.rmtree(args.work / "_CPack_Packages")  # cpack's staging copy: 400 MB
    debs = list(args.work.glob("*.deb"))
    assert len(debs) == 1, debs
    deb = debs[0]
    listing = run(["dpkg-deb", "-c", deb], timeout=30).stdout
    files = [line.split()[-1].removeprefix("./usr/") for line in listing.splitlines()
             if not line.startswith("d")]
    check_layout(files, args.source)
    depends = run(["dpkg-deb", "-f", deb, "Depends"], timeout=30).stdout
    depended = {d.strip().split()[0] for d in depends.split(",") if d.strip()}
    # Every shared library the binary links (its DT_NEEDED entries, resolved by ldd) must come
    # from a package the .deb depends on; their own dependencies come with those packages.
    binary = args.build / "src" / "cli" / "capsule"
    needed = re.findall(r"NEEDED\s+(\S+)", run(["objdump", "-p", binary], timeout=30).stdout)
    ldd = run(["ldd", binary], timeout=30).stdout
    resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
    resolved.update((pathlib.Path(p).name, p) for p in re.findall(r"^\s*(/\S+) \(", ldd, re.M))
    assert needed and all(n in resolved for n in needed), (needed, resolved)
    for name in needed:
        package = owner_package(resolved[name])
        assert package in depended, f"{name} comes from {package}, not in Depends: {depends}"
    # The packaged binary (stripped by CPack) runs: unpacked here, never installed system-wide.
    unpacked = args.work / "unpacked"
    run(["dpkg-deb", "-x", deb, unpacked], timeout=60)
    version = run([unpacked / "usr" / "bin" / "capsule", "version"], timeout=30).stdout
    package_version = run(["dpkg-deb", "-f", deb, "Version"], timeout=30).stdout.strip()
    assert version.startswith(f"capsule {package_version} "), (version, package_version)
    shutil.rmtree(unpacked)  # 200 MB; the .deb itself stays, for a look
    print(f"deb ok: {deb.name}, {deb.stat().st_size >> 20} MiB, Depends: {depends.strip()}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["prefix", "embedding", "new-refusals", "new", "deb"])
    for flag in ("--source", "--build", "--prefix"):
        parser.add_argument(flag, type=pathlib.Path, required=True)
    parser.add_argument("--work", type=pathlib.Path)
    parser.add_argument("--cxx", default="c++")
    parser.add_argument("--cxx-flags", default="")
    parser.add_argument("--launcher", default="")
    parser.add_argument("--component", type=pathlib.Path)
    parser.add_argument("--language")
    parser.add_argument("--cpack", default="cpack")
    parser.add_argument("--cmake", default="cmake")
    args = parser.parse_args()
    global CMAKE
    CMAKE = args.cmake
    for name in ("source", "build", "prefix", "work", "component"):
        if getattr(args, name) is not None:
            setattr(args, name, getattr(args, name).resolve())
    {"prefix": cmd_prefix, "embedding": cmd_embedding, "new-refusals": cmd_new_refusals,
     "new": cmd_new, "deb": cmd_deb}[args.mode](args)


if __name__ == "__main__":
    main()
