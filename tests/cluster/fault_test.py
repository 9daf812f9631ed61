#!/usr/bin/env python3
"""Jepsen-style fault test of fenced failover, with real processes.

One nats-server with JetStream (its store kept across restarts); three hosts p1 (group primary),
s1 and s2 (group standby) sharing one manifest in which bank/ledger is placed on `primary`, fails
over to `standby`, keeps its balance in NATS KV and tags every reply "<balance> <host> <lease
token>". Each of the three reaches NATS through its own small TCP proxy, which the test can cut
(every connection closed, new ones refused) and restore. Gateway hosts g1, g2... (no group, never
faulted except by NATS restarts) take the workload: one client thread per gateway sends `add:1`
(and, one time in ten, `balance`) to bank/ledger/0 through the gateway's admin API (POST
/v1/call, one request at a time: that server is serial), with a timeout.

Each round picks one fault at random (seeded): SIGKILL a host and restart it; SIGSTOP a host for
longer than the death timeout, then SIGCONT; restart nats-server (SIGTERM, a clean stop); cut one
host's proxy for a few seconds. The target is the current owner (the host of the latest acknowledged reply) more often
than not. The cluster is healed and left to settle between rounds.

Every operation is recorded (send time, end time, outcome) and checked at the end:
  1. every request got exactly one outcome within its timeout (plus a grace);
  2. no acknowledged add is lost: acked <= final balance <= acked + ambiguous outcomes;
  3. no two acknowledged adds returned the same balance, and the balances respect real time (an
     operation sent after another ended sees a balance at least as new);
  4. never two owners at once: a request sent after a reply with lease token T2 arrived is not
     answered under a token T1 < T2, and one token always names the same host.
Host crashes, a cluster that does not recover after a fault, and one that does not end with a
single owner are reported too. The run fails on any of these or if too few adds were acked.

  fault_test.py --capsule build/release/src/cli/capsule --components build/release/components \
                --nats-server /usr/bin/nats-server [--seconds 75] [--seed N] [--clients 2]

With `--nats-cluster 3` JetStream runs replicated on three nats-servers clustered with routes
(nats_process.NatsCluster; the buckets get `kv_replicas = 3`), each host is given all three
servers (through one proxy per server, all cut together), and every round also SIGKILLs one
server - the one leading the ledger's storage stream more often than not - and restarts it when
the round heals; the host faults are kill, pause and partition (a server restart is no longer a
fault of its own). The checker is the same.

The seed is printed first: `--seed N` replays the same choices of faults, targets and pauses (the
interleaving with the cluster's own timing is not reproducible). `--control-unfenced` is a
negative control for the checker: no lease, and each gateway runs its own ledger instance, so two
writers share the balance; the run must then fail with lost updates."""
import argparse
import bisect
import collections
import http.client
import itertools
import json
import os
import pathlib
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "e2e"))
import capsule_process  # noqa: E402
from capsule_process import free_port, wait_for  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import nats_process  # noqa: E402

ARGS = None
T0 = time.monotonic()  # every time in the report is seconds since the start of the run

TARGET = "bank/ledger/0"
# The bearer token of each host's TCP admin listener, by its address (read once it is ready).
TOKENS = {}


def auth(admin):
    return {"Authorization": f"Bearer {TOKENS[admin]}"} if admin in TOKENS else {}
FAULTED = ("p1", "s1", "s2")

MANIFEST = """
[host]
components_dir = "{components}"
storage_backend = "nats-kv"
kv_bucket = "bank_fault"

[[component]]
name = "bank/ledger"
path = "ledger.wasm"
  [component.config]
  tag_replies = "owner"
  [component.placement]
  groups = ["primary"]
  failover = ["standby"]
  [component.capabilities]
  "storage.read" = ["**"]
  "storage.write" = ["**"]

[grants."bank/ledger"]
"storage.read" = ["**"]
"storage.write" = ["**"]
"""


def now():
    return time.monotonic() - T0


def say(text):
    print(f"[{now():7.2f}] {text}", flush=True)


# -- processes -------------------------------------------------------------------------------------

class Proxy:
    """A TCP forwarder on a loopback port of its own to the NATS server: one thread per direction
    per connection. cut() closes every connection and refuses new ones (accepted and reset at
    once) until restore()."""

    def __init__(self, name, upstream_port):
        self.name = name
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.conns = set()
        self.cut_now = False
        self.closing = False
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, name=f"proxy-{name}", daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    @staticmethod
    def _quietly(*steps):
        for step in steps:
            try:
                step()
            except OSError:
                pass

    @staticmethod
    def _reset(sock):
        """Close with RST (linger 0): the host sees a broken connection, not a clean close."""
        Proxy._quietly(lambda: sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               b"\x01\x00\x00\x00\x00\x00\x00\x00"),
                       sock.close)

    @staticmethod
    def _shut(sock):
        Proxy._quietly(lambda: sock.shutdown(socket.SHUT_RDWR), sock.close)

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                if self.closing:
                    return
                continue
            with self.lock:
                refuse = self.cut_now or self.closing
            if refuse:
                self._reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                self._reset(client)  # the server is down: the client sees a refusal too
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, upstream)
            with self.lock:
                if self.cut_now or self.closing:
                    self._reset(client)
                    self._shut(upstream)
                    continue
                self.conns.add(pair)
            threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, src, dst, pair):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        self._drop(pair)

    def _drop(self, pair):
        with self.lock:
            if pair not in self.conns:
                return
            self.conns.discard(pair)
        for s in pair:
            self._shut(s)

    def cut(self):
        with self.lock:
            self.cut_now = True
            pairs = list(self.conns)
        for pair in pairs:
            self._drop(pair)

    def restore(self):
        with self.lock:
            self.cut_now = False

    def close(self):
        with self.lock:
            self.closing = True
        self.cut()
        self._shut(self.listener)


class Proxies:
    """A host's way to NATS: one Proxy per server, cut and restored together; `url` lists them."""

    def __init__(self, name, upstream_ports):
        self.proxies = [Proxy(name, port) for port in upstream_ports]

    @property
    def url(self):
        return ",".join(p.url for p in self.proxies)

    def cut(self):
        for p in self.proxies:
            p.cut()

    def restore(self):
        for p in self.proxies:
            p.restore()

    def close(self):
        for p in self.proxies:
            p.close()


class Host:
    """One `capsule run` process per life; its output (stdout and stderr, JSON log lines) goes to
    <dir>/<name>.log, every life appended to the same file."""

    def __init__(self, name, groups, url, manifest, workdir):
        self.name = name
        self.groups = groups
        self.url = url
        self.manifest = manifest
        self.data_dir = workdir / f"data-{name}"
        self.log_path = workdir / f"{name}.log"
        self.proc = None
        self.admin = None
        self.life = 0
        self.paused = False
        self.expect_alive = False

    def start(self, timeout=60):
        self.life += 1
        self.admin = f"127.0.0.1:{free_port()}"
        with open(self.log_path, "ab") as log:
            marker = {"ts": int(time.time() * 1000), "msg": f"--- fault_test: life {self.life} of {self.name} ---"}
            log.write(json.dumps(marker).encode() + b"\n")
            log.flush()
            offset = log.tell()
            cmd = [capsule_process.CAPSULE, "run", str(self.manifest), "--admin", self.admin,
                   "--log-format", "json", "--cluster", self.url, "--host", self.name,
                   "--data-dir", str(self.data_dir)]
            if self.groups:
                cmd += ["--groups", self.groups]
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        self.paused = False
        self.expect_alive = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines(offset):
                if line.get("msg", "").startswith("ready:"):
                    TOKENS[self.admin] = (self.data_dir / "admin.token").read_text().strip()
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = "".join(self.tail(40))
        self.kill()
        raise RuntimeError(f"host {self.name} did not become ready (exit {self.proc.returncode}):\n{tail}")

    def lines(self, offset=0):
        out = []
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                for raw in f:
                    try:
                        out.append(json.loads(raw))
                    except ValueError:
                        out.append({"msg": raw.decode(errors="replace").rstrip()})
        except OSError:
            pass
        return out

    def tail(self, n):
        try:
            with open(self.log_path, "rb") as f:
                return [l.decode(errors="replace") for l in f.readlines()[-n:]]
        except OSError:
            return []

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        self.expect_alive = False
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        self.paused = False

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        if self.paused and self.alive():
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def terminate(self):
        self.expect_alive = False
        if not self.alive():
            return
        if self.paused:
            self.proc.send_signal(signal.SIGCONT)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def admin_get(self, path, timeout=3):
        host, port = self.admin.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            conn.request("GET", path, headers=auth(self.admin))
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def runs_target(self):
        """True/False from /v1/ps, None if the host does not answer."""
        try:
            ps = self.admin_get("/v1/ps")
        except (OSError, ValueError, http.client.HTTPException):
            return None
        return any(i["id"] == TARGET and i["state"] == "running" for i in ps.get("instances", []))


# -- the workload ----------------------------------------------------------------------------------

class Op:
    __slots__ = ("id", "client", "kind", "send", "end", "wall", "outcome", "text", "balance",
                 "owner", "token", "cls")

    def __init__(self, op_id, client, kind):
        self.id = op_id
        self.client = client
        self.kind = kind  # "add" (add:1) or "read" (balance)
        self.send = now()
        self.wall = time.time()
        self.end = None
        self.outcome = None  # "ok", "error" (the host's error), "client" (HTTP-level failure)
        self.text = ""
        self.balance = None
        self.owner = None
        self.token = None
        self.cls = None  # "acked", "refused" (not applied), "ambiguous", "malformed"

    def describe(self):
        end = f"{self.end:.3f}" if self.end is not None else "never"
        return (f"op #{self.id} {self.client} {self.kind} sent {self.send:.3f} "
                f"({time.strftime('%H:%M:%S', time.localtime(self.wall))}.{int(self.wall * 1000) % 1000:03d}) "
                f"ended {end}: {self.cls} {self.text!r}")

    def as_json(self):
        return {k: getattr(self, k) for k in self.__slots__}


# An error that says the message was not handled (nothing written): counts as not applied.
REFUSED = (
    re.compile(r"is not served here now"),  # refused before the guest ran, or storage.set refused
    # No host announces it (nothing sent), or the receiving host no longer runs it (not handled).
    re.compile(r"no component \S+ on (this host|host \S+)"),
    re.compile(r"the NATS connection is down, reconnecting"),  # nothing sent
    re.compile(r"not heard from since this host reconnected"),  # nothing sent
    re.compile(r"mailbox full"),  # refused at the mailbox
)
# Errors after which the add may or may not have been applied (anything else counts so too, and
# is listed in the report).
AMBIGUOUS = (
    re.compile(r"no reply from \S+ within"),  # the requester's timeout
    re.compile(r"left the cluster"),  # the responder's host died or said goodbye
    re.compile(r"may or may not"),
    # The guest failed on a storage call: its first read (nothing written) or its write or the
    # read back after it (written or maybe written) - which one the text does not say.
    re.compile(r"handle-message returned an error: (NATS KV|storage)"),
)


def classify_error(text):
    for p in REFUSED:
        if p.search(text):
            return "refused", True
    for p in AMBIGUOUS:
        if p.search(text):
            return "ambiguous", True
    return "ambiguous", False  # unknown: the safe side for the bound, listed in the report


def call(admin, payload, timeout_ms):
    """One POST /v1/call; returns (outcome, text)."""
    host, port = admin.rsplit(":", 1)
    body = json.dumps({"target": TARGET, "payload": payload, "timeout_ms": timeout_ms})
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_ms / 1000 + 15)
    try:
        conn.request("POST", "/v1/call", body=body,
                     headers={"Content-Type": "application/json", **auth(admin)})
        raw = conn.getresponse().read()
    except ConnectionRefusedError as e:
        return "client", f"refused: gateway not listening: {e}"
    except socket.timeout:
        return "client", f"no HTTP answer within {timeout_ms / 1000 + 15:.0f} s (hang)"
    except (OSError, http.client.HTTPException) as e:
        return "client", f"HTTP failure: {e!r}"
    finally:
        conn.close()
    try:
        j = json.loads(raw)
    except ValueError:
        return "client", f"undecodable answer {raw[:200]!r}"
    if j.get("ok"):
        return "ok", j.get("payload", "")
    err = j.get("error", {})
    return "error", f"{err.get('code', '?')}: {err.get('message', raw.decode(errors='replace'))}"


class History:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = []
        self.ids = itertools.count(1)
        self.unknown_errors = collections.Counter()
        self.last_ack = None  # the latest acked op

    def run(self, client, admin, kind, timeout_ms):
        with self.lock:
            op = Op(next(self.ids), client, kind)
            self.ops.append(op)
        outcome, text = call(admin, "add:1" if kind == "add" else "balance", timeout_ms)
        op.end = now()
        op.outcome, op.text = outcome, text
        if outcome == "ok":
            parts = text.split()
            if len(parts) == 3 and parts[0].lstrip("-").isdigit() and parts[2].isdigit():
                op.balance, op.owner, op.token = int(parts[0]), parts[1], int(parts[2])
                op.cls = "acked"
                with self.lock:
                    if self.last_ack is None or op.end > self.last_ack.end:
                        self.last_ack = op
            else:
                op.cls = "malformed"
        elif outcome == "error":
            op.cls, known = classify_error(text)
            if not known:
                with self.lock:
                    self.unknown_errors[text] += 1
        elif text.startswith("refused:"):
            op.cls = "refused"  # nothing reached the gateway
        else:
            op.cls = "ambiguous"
        return op


def client_loop(history, name, admin, stop, timeout_ms, rng, read_ratio):
    while not stop.is_set():
        op = history.run(name, admin, "read" if rng.random() < read_ratio else "add", timeout_ms)
        # Paced so that five hosts, the server and the proxies share two cores.
        time.sleep(0.02 if op.cls == "acked" else 0.1)


# -- the checker -----------------------------------------------------------------------------------

def check(history, final_balance, timeout_ms, grace_s, min_acked):
    """Returns (violations: [(kind, text, [ops])], stats)."""
    ops = [o for o in history.ops if o.end is not None]
    adds = [o for o in ops if o.kind == "add"]
    acked = [o for o in ops if o.cls == "acked"]
    acked_adds = [o for o in adds if o.cls == "acked"]
    ambiguous = [o for o in adds if o.cls == "ambiguous"]
    refused = [o for o in adds if o.cls == "refused"]
    v = []

    # 1. One outcome per request, within its timeout.
    unfinished = [o for o in history.ops if o.end is None]
    if unfinished:
        v.append(("no outcome", f"{len(unfinished)} request(s) never ended", unfinished))
    late = [o for o in ops if o.end - o.send > timeout_ms / 1000 + grace_s]
    if late:
        v.append(("late outcome", f"{len(late)} request(s) ended more than {grace_s} s after their "
                  f"{timeout_ms} ms timeout (worst {max(o.end - o.send for o in late):.2f} s)", late))
    malformed = [o for o in ops if o.cls == "malformed"]
    if malformed:
        v.append(("malformed reply", f"{len(malformed)} reply(ies) not '<balance> <host> <token>'", malformed))

    # 2. No acknowledged add lost, nothing applied beyond what may have been.
    if final_balance is None:
        v.append(("no final balance", "the balance could not be read after healing", []))
    else:
        if final_balance < len(acked_adds):
            v.append(("lost acknowledged adds", f"final balance {final_balance} < {len(acked_adds)} acked adds", []))
        if final_balance > len(acked_adds) + len(ambiguous):
            v.append(("phantom adds", f"final balance {final_balance} > {len(acked_adds)} acked + "
                      f"{len(ambiguous)} ambiguous: an add refused as not handled was applied", []))
        above = [o for o in acked_adds if o.balance > final_balance]
        if above:
            v.append(("balance rolled back", f"{len(above)} acked add(s) returned a balance above the "
                      f"final {final_balance}", above))

    # 3. No two acked adds saw the same balance; balances respect real time.
    by_balance = collections.defaultdict(list)
    for o in acked_adds:
        by_balance[o.balance].append(o)
    for bal, group in sorted(by_balance.items()):
        if len(group) > 1:
            v.append(("duplicate balance", f"{len(group)} acked adds returned balance {bal} "
                      "(a lost update: two writers, or a write from a stale read)", group))
    low = [o for o in acked_adds if o.balance < 1]
    if low:
        v.append(("impossible balance", "acked add(s) returned a balance below 1", low))

    # Real-time order: an op sent after others ended must see at least their balance (an add: more)
    # and must not be answered under an older lease token.
    by_end = sorted(acked, key=lambda o: o.end)
    ends = [o.end for o in by_end]
    best_bal, best_tok = [], []  # prefix maxima over by_end
    for o in by_end:
        pb = best_bal[-1] if best_bal else None
        pt = best_tok[-1] if best_tok else None
        best_bal.append(o if pb is None or o.balance > pb.balance else pb)
        best_tok.append(o if pt is None or o.token > pt.token else pt)
    for o in sorted(acked, key=lambda o: o.send):
        i = bisect.bisect_left(ends, o.send)  # ops that ended strictly before o was sent
        if i == 0:
            continue
        prior = best_bal[i - 1]
        need = prior.balance + (1 if o.kind == "add" else 0)
        if o.balance < need:
            v.append(("stale balance", f"op #{o.id} ({o.kind}) returned {o.balance} although op #{prior.id} "
                      f"had returned {prior.balance} before it was sent", [prior, o]))
        prior = best_tok[i - 1]
        if o.token < prior.token:
            v.append(("two owners", f"op #{o.id} answered by {o.owner} under lease token {o.token} after "
                      f"op #{prior.id} had been answered by {prior.owner} under the newer token {prior.token}",
                      [prior, o]))

    # 4b. One token, one host.
    hosts_of = collections.defaultdict(dict)
    for o in acked:
        hosts_of[o.token].setdefault(o.owner, o)
    for tok, owners in sorted(hosts_of.items()):
        if len(owners) > 1:
            v.append(("one token, two hosts", f"lease token {tok} named {sorted(owners)}", list(owners.values())))

    if len(acked_adds) < min_acked:
        v.append(("too few acked", f"only {len(acked_adds)} acked adds (at least {min_acked} wanted): "
                  "the run proves little", []))

    owners = collections.Counter((o.owner, o.token) for o in acked)
    reads = [o for o in ops if o.kind == "read"]
    stats = {"ops": len(ops), "adds": len(adds), "acked": len(acked_adds), "ambiguous": len(ambiguous),
             "reads": len(reads), "reads_ok": sum(1 for o in reads if o.cls == "acked"),
             "refused": len(refused), "final_balance": final_balance,
             "owners": owners, "max_latency": max((o.end - o.send for o in ops), default=0)}
    return v, stats


# -- the test --------------------------------------------------------------------------------------

class FaultTest:
    def __init__(self, workdir, rng):
        self.dir = workdir
        self.rng = rng
        self.history = History()
        self.violations = []  # found during the run (crashes, no recovery)
        self.faults = collections.Counter()
        self.rounds = []
        self.stop_clients = threading.Event()
        self.clients = []
        manifest = workdir / "bank.toml"
        text = MANIFEST.format(components=ARGS.components)
        if ARGS.control_unfenced:
            # Negative control: no failover, so no lease; the gateways join group primary and so
            # each runs its own instance, which their requests reach first: two writers at once.
            text = text.replace('  failover = ["standby"]\n', '')
        self.cluster = ARGS.nats_cluster > 1
        if self.cluster:
            text = text.replace('kv_bucket = "bank_fault"\n',
                                f'kv_bucket = "bank_fault"\nkv_replicas = {ARGS.nats_cluster}\n')
            self.nats = nats_process.NatsCluster(ARGS.nats_server, workdir, log_dir=workdir)
            servers = self.nats.servers
            say(f"JetStream cluster of {len(servers)} servers: {self.nats.urls}")
        else:
            self.nats = nats_process.NatsServer(ARGS.nats_server, store_dir=workdir / "jetstream",
                                                log_path=workdir / "nats-server.log")
            servers = [self.nats]
        manifest.write_text(text)
        self.proxies = {n: Proxies(n, [srv.port for srv in servers]) for n in FAULTED}
        self.hosts = {}
        for name, groups in (("p1", "primary"), ("s1", "standby"), ("s2", "standby")):
            self.hosts[name] = Host(name, groups, self.proxies[name].url, manifest, workdir)
        self.gateways = [Host(f"g{i + 1}", "primary" if ARGS.control_unfenced else None,
                              ",".join(srv.url for srv in servers), manifest, workdir)
                         for i in range(ARGS.clients)]

    def all_hosts(self):
        return list(self.hosts.values()) + self.gateways

    def start(self):
        for h in self.all_hosts():
            h.start()
        say("hosts ready: " + ", ".join(f"{h.name} (admin {h.admin})" for h in self.all_hosts()))
        # The ledger answers through a gateway before the faults begin.
        ok = wait_for(lambda: self.history.run("setup", self.gateways[0].admin, "read",
                                               ARGS.timeout_ms).cls == "acked", 30)
        if not ok:
            raise RuntimeError("the ledger never answered through the gateway before any fault")
        for i, g in enumerate(self.gateways):
            t = threading.Thread(target=client_loop, name=f"client-{i + 1}",
                                 args=(self.history, f"c{i + 1}", g.admin, self.stop_clients, ARGS.timeout_ms,
                                       random.Random(self.rng.random()), ARGS.read_ratio),
                                 daemon=True)
            t.start()
            self.clients.append(t)

    def owner(self):
        last = self.history.last_ack
        return last.owner if last is not None and last.owner in self.hosts else None

    def check_processes(self, when):
        for h in self.all_hosts():
            if h.expect_alive and not h.alive():
                code = h.proc.returncode
                tail = "".join(h.tail(25))
                self.violations.append(("host crashed", f"{h.name} (life {h.life}) exited by itself with "
                                        f"status {code}, noticed {when}:\n{tail}", []))
                say(f"!! {h.name} exited by itself ({code}); restarting it")
                try:
                    h.start()
                except RuntimeError as e:
                    self.violations.append(("host does not restart", str(e), []))

    def servers_dead(self):
        return [i for i in range(len(self.nats.servers)) if not self.nats.alive(i)] if self.cluster else []

    def kill_server(self, aim_leader, fallback):
        """Cluster mode: SIGKILL one server (the storage stream's leader if aimed at and known)."""
        leader = self.nats.leader_of("KV_bank_fault")
        victim = leader if aim_leader and leader is not None else fallback
        self.faults["server kill"] += 1
        if victim == leader:
            self.faults["of the leader"] += 1
        say(f"   SIGKILL nats-server n{victim + 1}" + (" (the storage leader)" if victim == leader else
                                                     f" (leader n{leader + 1})" if leader is not None else ""))
        self.nats.servers[victim].kill()
        return victim

    def fault(self, index):
        rng = self.rng
        kind = rng.choice(["kill", "pause", "partition"] if self.cluster else
                          ["kill", "pause", "nats", "partition"])
        # Draw every random number up front, so that a seed replays the same schedule.
        aim_owner = rng.random() < 0.6
        fallback = rng.choice(FAULTED)
        down = {"kill": rng.uniform(0.2, 4.0), "pause": rng.uniform(4.0, 6.0),
                "nats": rng.uniform(0.3, 5.0), "partition": rng.uniform(2.0, 8.0)}[kind]
        settle = rng.uniform(1.0, 3.0)
        if self.cluster:
            server_aim_leader = rng.random() < 0.6
            server_fallback = rng.randrange(len(self.nats.servers))
        target = None
        if kind != "nats":
            target = (self.owner() if aim_owner else None) or fallback
        self.faults[kind] += 1
        what = f"{kind} {target}" if target else kind
        if target and target == self.owner():
            what += " (the owner)"
        say(f"round {index}: {what} for {down:.1f} s")
        t_fault = now()
        victim = self.kill_server(server_aim_leader, server_fallback) if self.cluster else None
        if kind == "kill":
            self.hosts[target].kill()
            time.sleep(down)
            try:
                self.hosts[target].start()
            except RuntimeError as e:
                self.violations.append(("host does not restart", str(e), []))
                say(f"!! {target} did not restart")
        elif kind == "pause":
            self.hosts[target].pause()
            time.sleep(down)
            woke_at = os.path.getsize(self.hosts[target].log_path)
            woke_ms = time.time() * 1000
            self.hosts[target].resume()
        elif kind == "nats":
            self.nats.stop()
            time.sleep(down)
            self.nats.start()
        else:
            self.proxies[target].cut()
            time.sleep(down)
            self.proxies[target].restore()
        if victim is not None:
            self.nats.servers[victim].start()
        healed = now()
        self.check_processes(f"after round {index}")
        # Settled: an add acknowledged after the heal.
        recovered = wait_for(lambda: self.history.last_ack is not None and self.history.last_ack.send > healed,
                             ARGS.recovery)
        took = now() - healed
        if not recovered:
            self.violations.append(("no recovery", f"round {index} ({what}): no add acked within "
                                    f"{ARGS.recovery} s after healing at {healed:.2f}", []))
            say(f"!! no add acked within {ARGS.recovery} s after healing")
        else:
            say(f"   healed at {healed:.2f}, next ack {took:.2f} s later (owner {self.owner()})")
        self.rounds.append({"round": index, "kind": kind, "target": target, "down": down, "server": victim,
                            "fault_at": t_fault, "healed_at": healed, "recovered_in": took if recovered else None})
        time.sleep(settle)
        if kind == "pause":
            # Only the paused host was faulted: on waking it must not take its own silence for
            # the others' deaths (it would fail every request it had pending on them).
            # A "[repeated ...]" summary is written when the next line comes, so it can appear
            # after waking for deaths judged before the pause: its repeat_last_ts tells.
            deaths = [l.get("msg", "") for l in self.hosts[target].lines(woke_at)
                      if "is dead (no heartbeat" in l.get("msg", "")
                      and int(l.get("repeat_last_ts", woke_ms)) >= woke_ms]
            if deaths:
                self.violations.append(("a paused host declared live hosts dead on waking",
                                        f"round {index}: {target}: " + "; ".join(deaths[:4]), []))
                say(f"!! {target} declared {len(deaths)} host(s) dead on waking")

    def run(self):
        deadline = now() + ARGS.seconds
        index = 0
        while now() < deadline:
            index += 1
            self.fault(index)
        self.stop_clients.set()
        for t in self.clients:
            t.join(timeout=ARGS.timeout_ms / 1000 + 30)
        say(f"faults over after {index} rounds; clients stopped")
        return index

    def heal_and_read(self):
        """Everything healed, one owner, then the balance (None if it cannot be read)."""
        for p in self.proxies.values():
            p.restore()
        if self.cluster:
            for i in self.servers_dead():
                self.nats.servers[i].start()
        elif self.nats.proc.poll() is not None:
            self.nats.start()
        for h in self.all_hosts():
            h.resume()
        self.check_processes("at the end")
        # Exactly one of the faulted hosts runs the ledger, for three looks in a row.
        streak, seen = 0, {}
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and streak < 3:
            seen = {n: h.runs_target() for n, h in self.hosts.items()}
            streak = streak + 1 if list(seen.values()).count(True) == 1 else 0
            time.sleep(1)
        if streak < 3:
            self.violations.append(("not one owner at the end",
                                    f"40 s after healing, hosts running {TARGET}: {seen}", []))
        say(f"one owner at the end: {[n for n, r in seen.items() if r]} ({seen})")
        balance = None
        reads = []
        for _ in range(2):  # twice, a few seconds apart: nothing may still be landing
            ok = wait_for(lambda: self.history.run("final", self.gateways[0].admin, "read",
                                                   ARGS.timeout_ms).cls == "acked", 30)
            if not ok:
                break
            reads.append(self.history.last_ack)
            time.sleep(3)
        if len(reads) == 2:
            balance = reads[-1].balance
            if reads[0].balance != reads[1].balance:
                self.violations.append(("balance still moving", f"final reads {reads[0].balance} then "
                                        f"{reads[1].balance} with no client running", reads))
        self.check_processes("after the final reads")
        return balance

    def close(self):
        self.stop_clients.set()
        # Standbys first, so that stopping the others does not make them adopt on the way out.
        for h in reversed(self.all_hosts()):
            try:
                h.terminate()
            except Exception as e:  # noqa: BLE001 - the others must still be stopped
                say(f"stopping {h.name}: {e!r}")
        for p in self.proxies.values():
            p.close()
        self.nats.close()


def log_excerpt(test, around, span=3.0, limit=30):
    """Host log lines about leases and failover within `span` s of the monotonic times `around`."""
    wall = lambda t: (time.time() - now() + t) * 1000  # noqa: E731 - monotonic -> epoch ms
    lo, hi = wall(min(around) - span), wall(max(around) + span)
    keys = ("lease", "failover", "serving", "adopt", "released", "left", "dead", "reconnect", "error", "warn")
    out = []
    for h in test.all_hosts():
        for line in h.lines():
            ts = line.get("ts")
            if ts is None or not lo <= ts <= hi:
                continue
            text = json.dumps(line)
            if any(k in text.lower() for k in keys):
                out.append((ts, f"  {h.name}: {time.strftime('%H:%M:%S', time.localtime(ts / 1000))}."
                                f"{ts % 1000:03d} {text}"))
    out.sort()
    return [t for _, t in out[:limit]]


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nats-server", required=True)
    parser.add_argument("--seconds", type=float, default=75, help="how long faults are injected")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--clients", type=int, default=2, help="gateway hosts, one client thread each")
    parser.add_argument("--timeout-ms", type=int, default=2500, help="timeout of each request")
    parser.add_argument("--grace", type=float, default=2.0, help="s an outcome may come after the timeout")
    parser.add_argument("--recovery", type=float, default=30.0, help="s allowed to recover after a fault")
    parser.add_argument("--min-acked", type=int, default=100)
    parser.add_argument("--read-ratio", type=float, default=0.1,
                        help="share of requests that read the balance instead of adding 1")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs) even on success")
    parser.add_argument("--nats-cluster", type=int, default=1, choices=(1, 3),
                        help="3: JetStream replicated on three clustered nats-servers (buckets with "
                             "3 replicas), one of them SIGKILLed every round")
    parser.add_argument("--control-unfenced", action="store_true",
                        help="negative control: no failover and so no lease, and the gateways run the "
                             "ledger too (two writers at once): the checker must then report lost updates "
                             "(the run is expected to fail)")
    ARGS, rest = capsule_process.parse_args(parser)
    if rest:
        parser.error(f"unknown arguments {rest}")
    seed = ARGS.seed if ARGS.seed is not None else random.SystemRandom().randrange(1 << 31)
    print(f"fault_test seed {seed} (replay with --seed {seed}), {ARGS.seconds:.0f} s of faults, "
          f"{ARGS.clients} client(s), request timeout {ARGS.timeout_ms} ms", flush=True)
    rng = random.Random(seed)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="capsule-fault-"))

    # A bounded run: if anything hangs past this, the children are killed and the test fails.
    hard_limit = ARGS.seconds + 240
    test = None

    def watchdog():
        time.sleep(hard_limit)
        print(f"fault_test: still running after {hard_limit:.0f} s, killing everything", flush=True)
        if test is not None:
            for h in test.all_hosts():
                if h.proc and h.proc.poll() is None:
                    h.proc.kill()
            for server in getattr(test.nats, "servers", [test.nats]):
                if server.proc:
                    server.proc.kill()
        print(f"logs kept in {workdir}", flush=True)
        os._exit(2)
    threading.Thread(target=watchdog, daemon=True).start()

    failed = True
    try:
        test = FaultTest(workdir, rng)
        test.start()
        started = now()
        rounds = test.run()
        fault_time = now() - started
        balance = test.heal_and_read()
        violations, stats = check(test.history, balance, ARGS.timeout_ms, ARGS.grace, ARGS.min_acked)
        violations = test.violations + violations
        with open(workdir / "history.jsonl", "w") as f:
            for o in test.history.ops:
                f.write(json.dumps(o.as_json()) + "\n")

        print("\n==== fault_test report ====")
        print(f"seed {seed}; {rounds} rounds in {fault_time:.1f} s; faults: "
              + ", ".join(f"{k} {test.faults[k]}" for k in ("kill", "pause", "nats", "partition",
                                                             "server kill", "of the leader")
                          if k in test.faults or k in ("kill", "pause", "nats", "partition")))
        print(f"ops {stats['ops']} (adds {stats['adds']}, reads {stats['reads']} of which {stats['reads_ok']} answered); "
              f"adds: acked {stats['acked']}, ambiguous {stats['ambiguous']}, refused {stats['refused']}; "
              f"final balance {stats['final_balance']}; "
              f"slowest outcome {stats['max_latency']:.2f} s")
        print("owners seen (host, lease token: acked replies): "
              + ", ".join(f"{h} {t}: {n}" for (h, t), n in sorted(stats["owners"].items(), key=lambda x: x[0][1])))
        recov = [r["recovered_in"] for r in test.rounds if r["recovered_in"] is not None]
        if recov:
            print(f"recovery after healing: median {sorted(recov)[len(recov) // 2]:.2f} s, worst {max(recov):.2f} s")
        errors = collections.Counter()
        for o in test.history.ops:
            if o.cls in ("refused", "ambiguous"):
                # Group the texts without their variable parts (numbers).
                errors[(o.cls, "".join("#" if c.isdigit() else c for c in o.text)[:150])] += 1
        print("error outcomes:")
        for (cls, text), n in errors.most_common(12):
            print(f"  {n:6d} {cls:9s} {text}")
        if test.history.unknown_errors:
            print("unclassified error texts (counted as ambiguous):")
            for text, n in test.history.unknown_errors.most_common(8):
                print(f"  {n:6d} {text[:200]}")
        print(f"violations: {len(violations)}")
        by_kind = collections.defaultdict(list)
        for kind, text, ops in violations:
            by_kind[kind].append((text, ops))
        for kind, items in by_kind.items():
            print(f"  -- {kind}: {len(items)}")
            for n, (text, ops) in enumerate(items[:5]):
                print(f"     {text}")
                for o in ops[:6]:
                    print(f"       {o.describe()}")
                if ops and n < 2:  # the hosts' side of the first two
                    for line in log_excerpt(test, [o.send for o in ops] + [o.end for o in ops if o.end]):
                        print(f"     {line}")
            if len(items) > 5:
                print(f"     ... and {len(items) - 5} more")
        failed = bool(violations)
        print("RESULT: " + ("FAILED" if failed else "passed"), flush=True)
    except Exception as e:  # noqa: BLE001 - reported, then the processes are stopped
        import traceback
        traceback.print_exc()
        print(f"fault_test aborted: {e}", flush=True)
        failed = True
    finally:
        if test is not None:
            test.close()
        if failed or ARGS.keep:
            print(f"logs and history kept in {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
