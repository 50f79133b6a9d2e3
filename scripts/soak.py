#!/usr/bin/env python3
"""The churn driver and the checks of scripts/soak.sh, run against a `tenantd run` it started.

It churns tenant specs at random (seeded) for a duration while sampling the daemon's resident
memory, then stops, waits until every remaining spec has converged, and checks what the daemon
left behind: orphaned containers and networks, plaintext secrets of deleted tenants, secret
values outside the secrets directory, memory growth, and the daemon still being alive. It prints
a summary with PASS/FAIL per check and exits 1 when any check fails.

Only objects named `<instance>_…` or labelled `io.tenantd.instance=<instance>` are touched;
soak.sh removes them afterwards.
"""

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

MAX_TENANTS = 12
NAMES = [f"t{i:02d}" for i in range(20)]
MEMORY = {"48Mi": 48 << 20, "64Mi": 64 << 20, "96Mi": 96 << 20, "128Mi": 128 << 20}
INSTANCE_LABEL = "io.tenantd.instance"
TENANT_LABEL = "io.tenantd.tenant"
RSS_INTERVAL = 10.0
PHASE_INTERVAL = 5.0
PROGRESS_INTERVAL = 30.0
# A killed runtime counts as a failure for the daemon's backoff (10 s doubling, forgotten after
# 10 min), so the same tenant is killed at most this often, to keep its final wait bounded.
KILL_SPACING = 90.0
# The RSS check compares medians of thirds of the churn samples: the first third is warm-up
# (allocator arenas, runtime threads and caches growing to the working set), the middle third
# the reference, the last third must not exceed it by more than RSS_GROWTH plus RSS_SLACK.
# Medians ignore the short peaks of a burst of reconciles; the absolute slack covers allocator
# jitter, which at a few tens of MB is of the same order as the percentage.
RSS_GROWTH = 0.20
RSS_SLACK = 4 << 20
RSS_MIN_SAMPLES = 9


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(args, stdin=None, check=False):
    p = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


class Tenant:
    def __init__(self, name):
        self.name = name
        self.file = f"{name}.yaml"
        self.memory = "64Mi"
        self.greeting = "hello"
        self.secrets = {}  # secret name -> (canary value, YAML block of its ciphertext)
        self.broken = None  # None, or the kind of invalid content its file holds
        self.broken_at = 0.0
        self.fix_after = 0.0
        self.last_kill = -KILL_SPACING
        self.nudged = False


class Soak:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.tenantd = a.tenantd
        self.config = a.config
        self.tenants_dir = Path(a.tenants)
        self.state_dir = Path(a.state)
        self.secrets_dir = Path(a.secrets)
        self.work = Path(a.work)
        self.instance = a.instance
        self.pid = a.daemon_pid
        self.present = {}  # tenant name -> Tenant, for every file in tenants_dir
        self.ever = set()
        self.canaries = []
        self.canary_prefix = f"cnry{a.seed:x}q"
        self.counter = 0
        self.actions = {}
        self.rss = []  # (seconds since churn start, bytes, during churn)
        self.phases_seen = {}
        self.problems_seen = {}
        self.results = []
        self.notes = []
        self.log_kinds = []
        self.t0 = time.monotonic()

    # --- spec files -------------------------------------------------------------------------

    def next_id(self):
        self.counter += 1
        return self.counter

    def new_secret(self, t, name):
        value = f"{self.canary_prefix}{self.next_id():05d}x{self.rng.getrandbits(40):010x}"
        self.canaries.append(value)
        out = run([self.tenantd, "--config", self.config, "secrets", "encrypt"], stdin=value + "\n", check=True)
        block = "".join(f"      {line}\n" for line in out.stdout.splitlines())
        t.secrets[name] = (value, block)

    def render(self, t):
        secrets = "".join(f"    {name}:\n{block}" for name, (_, block) in sorted(t.secrets.items()))
        return (
            "apiVersion: tenantd/v1\n"
            "kind: Tenant\n"
            f"metadata: {{ name: {t.name} }}\n"
            "spec:\n"
            f"  image: {self.a.image}\n"
            "  pullPolicy: Never\n"
            f"  env: {{ GREETING: {t.greeting} }}\n"
            f"  resources: {{ memory: {t.memory}, cpus: 0.25, pids: 64 }}\n"
            "  health: { interval: 3s, timeout: 2s, retries: 3, startPeriod: 2s, "
            "probeCommand: [/stub-runtime, probe] }\n"
            "  volumes: [ { name: data, mountPath: /data } ]\n"
            "  secrets:\n"
            f"{secrets}"
            "  runtimeConfig:\n"
            "    gatewayToken: { secret: TOKEN }\n"
        )

    def render_broken(self, t, kind):
        text = self.render(t)
        if kind == "schema":
            return text.replace(f"memory: {t.memory},", "memory: lots,")
        if kind == "yaml":
            # Unclosed flow mapping: the file does not parse, so its tenant cannot be told.
            return text.replace(f"metadata: {{ name: {t.name} }}", f"metadata: {{ name: {t.name}\n  [")
        # "cipher": one altered base64 character in the first secret's payload fails its authentication.
        lines = text.split("\n")
        end = next(i for i, l in enumerate(lines) if l.strip() == "-----END AGE ENCRYPTED FILE-----")
        body = lines[end - 1]
        at = len(body) - len(body.lstrip())
        lines[end - 1] = body[:at] + ("B" if body[at] == "A" else "A") + body[at + 1 :]
        return "\n".join(lines)

    def write(self, t, text):
        path = self.tenants_dir / t.file
        if self.rng.random() < 0.15:
            # In place, in two writes well inside the daemon's debounce.
            with open(path, "w") as f:
                half = len(text) // 2
                f.write(text[:half])
                f.flush()
                time.sleep(0.03)
                f.write(text[half:])
        else:
            tmp = self.work / f".{t.file}.tmp"
            tmp.write_text(text)
            os.replace(tmp, path)

    # --- churn actions ----------------------------------------------------------------------

    def valid_tenants(self):
        return [t for t in self.present.values() if t.broken is None]

    def act_create(self):
        free = [n for n in NAMES if n not in self.present]
        t = Tenant(self.rng.choice(free))
        t.memory = self.rng.choice(list(MEMORY))
        t.greeting = f"hello-{self.next_id()}"
        self.new_secret(t, "TOKEN")
        if self.rng.random() < 0.3:
            self.new_secret(t, "EXTRA")
        self.present[t.name] = t
        self.ever.add(t.name)
        if self.rng.random() < 0.2:
            kind = self.rng.choice(["schema", "yaml", "cipher", "unattributed", "unattributed"])
            if kind == "unattributed":
                # A stem that is not a tenant name: while the file does not parse, nothing tells
                # its tenant, and the daemon holds back every deletion.
                t.file = f"New_{t.name}.yaml"
                kind = "yaml"
            self.break_tenant(t, kind)
            return f"create {t.name} (invalid: {t.broken}, {t.file})"
        self.write(t, self.render(t))
        return f"create {t.name}"

    def act_memory(self):
        t = self.rng.choice(self.valid_tenants())
        t.memory = self.rng.choice([m for m in MEMORY if m != t.memory])
        self.write(t, self.render(t))
        return f"memory {t.name} {t.memory}"

    def act_env(self):
        t = self.rng.choice(self.valid_tenants())
        t.greeting = f"hello-{self.next_id()}"
        self.write(t, self.render(t))
        return f"env {t.name}"

    def act_rotate(self):
        t = self.rng.choice(self.valid_tenants())
        name = self.rng.choice(sorted(t.secrets))
        self.new_secret(t, name)
        self.write(t, self.render(t))
        return f"rotate {t.name}/{name}"

    def act_extra(self):
        t = self.rng.choice(self.valid_tenants())
        if "EXTRA" in t.secrets:
            del t.secrets["EXTRA"]
            verb = "drop"
        else:
            self.new_secret(t, "EXTRA")
            verb = "add"
        self.write(t, self.render(t))
        return f"{verb} {t.name}/EXTRA"

    def act_delete(self):
        t = self.rng.choice(sorted(self.present.values(), key=lambda t: t.name))
        (self.tenants_dir / t.file).unlink()
        del self.present[t.name]
        return f"delete {t.name}" + (f" (was invalid: {t.broken})" if t.broken else "")

    def break_tenant(self, t, kind):
        t.broken = kind
        t.broken_at = time.monotonic()
        t.fix_after = t.broken_at + self.rng.uniform(5, 40)
        self.write(t, self.render_broken(t, kind))

    def act_break(self):
        t = self.rng.choice(self.valid_tenants())
        self.break_tenant(t, self.rng.choice(["schema", "yaml", "cipher"]))
        return f"break {t.name} ({t.broken})"

    def fixable(self):
        now = time.monotonic()
        return [t for t in self.present.values() if t.broken and now >= t.fix_after]

    def fix(self, t):
        kind, t.broken = t.broken, None
        self.write(t, self.render(t))
        return f"fix {t.name} ({kind})"

    def act_fix(self):
        return self.fix(self.rng.choice(sorted(self.fixable(), key=lambda t: t.name)))

    def killable(self):
        now = time.monotonic()
        return [t for t in self.present.values() if now - t.last_kill >= KILL_SPACING]

    def act_kill(self, how):
        t = self.rng.choice(sorted(self.killable(), key=lambda t: t.name))
        t.last_kill = time.monotonic()
        name = f"{self.instance}_{t.name}"
        args = ["docker", "kill", name] if how == "kill" else ["docker", "rm", "-f", name]
        p = run(args)
        return f"docker {how} {t.name}" + ("" if p.returncode == 0 else " (no such container)")

    def churn_step(self):
        n, valid = len(self.present), len(self.valid_tenants())
        choices = [
            ("create", self.act_create, 3.0 if n < MAX_TENANTS else 0),
            ("memory", self.act_memory, 2.0 if valid else 0),
            ("env", self.act_env, 2.0 if valid else 0),
            ("rotate", self.act_rotate, 2.0 if valid else 0),
            ("extra", self.act_extra, 0.7 if valid else 0),
            ("delete", self.act_delete, (2.0 if n > 4 else 0.4) if n else 0),
            ("break", self.act_break, 0.5 if valid > 2 else 0),
            ("fix", self.act_fix, 2.0 if self.fixable() else 0),
            ("kill", lambda: self.act_kill("kill"), 0.6 if self.killable() else 0),
            ("rm", lambda: self.act_kill("rm"), 0.6 if self.killable() else 0),
        ]
        choices = [c for c in choices if c[2] > 0]
        kind, action, _ = self.rng.choices(choices, weights=[c[2] for c in choices])[0]
        self.actions[kind] = self.actions.get(kind, 0) + 1
        return action()

    # --- observation ------------------------------------------------------------------------

    def daemon_state(self):
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("State:"):
                    return line.split()[1]
        except OSError:
            return None
        return None

    def daemon_alive(self):
        return self.daemon_state() not in (None, "Z", "X")

    def sample_rss(self, churning):
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                    self.rss.append((time.monotonic() - self.t0, rss, churning))
                    return rss
        except OSError:
            pass
        return None

    def status(self, name):
        try:
            return json.loads((self.state_dir / "status" / f"{name}.json").read_text())
        except (OSError, ValueError):
            return None

    def observe_phases(self):
        counts = {}
        for name in sorted(self.present):
            s = self.status(name)
            phase = s.get("phase", "?") if s else "(none)"
            counts[phase] = counts.get(phase, 0) + 1
            self.phases_seen[phase] = self.phases_seen.get(phase, 0) + 1
            if s and phase not in ("Running", "Pending", "Invalid", "Removed"):
                error = s.get("lastError") or "(no lastError)"
                key = f"{phase}: " + re.sub(r"\b[0-9a-f]{12,}\b|\d+", "N", error)[:300]
                seen = self.problems_seen.setdefault(key, [0, f"{phase} {name} at {time.monotonic() - self.t0:.0f} s: {error}"[:600]])
                seen[0] += 1
        return counts

    def inspect(self, kind, names):
        if not names:
            return []
        p = run(["docker", "inspect", "--type", kind, *names])
        try:
            return json.loads(p.stdout or "[]")
        except ValueError:
            return []

    def instance_objects(self, kind):
        f = f"label={INSTANCE_LABEL}={self.instance}"
        if kind == "container":
            out = run(["docker", "ps", "-a", "--filter", f, "--format", "{{.Names}}"]).stdout
        else:
            out = run(["docker", kind, "ls", "--filter", f, "--format", "{{.Name}}"]).stdout
        return sorted(l.strip() for l in out.splitlines() if l.strip())

    # --- the phases of a run ----------------------------------------------------------------

    def churn(self):
        end = time.monotonic() + self.a.duration
        next_rss = next_phase = time.monotonic()
        next_progress = time.monotonic() + PROGRESS_INTERVAL
        steps = 0
        while time.monotonic() < end:
            if not self.daemon_alive():
                log("the daemon is gone; churn stops")
                return False
            now = time.monotonic()
            if now >= next_rss:
                self.sample_rss(True)
                next_rss += RSS_INTERVAL
            if now >= next_phase:
                counts = self.observe_phases()
                next_phase += PHASE_INTERVAL
            if now >= next_progress:
                rss = self.rss[-1][1] / (1 << 20) if self.rss else 0
                log(f"{int(now - self.t0)} s: {steps} actions, {len(self.present)} specs, "
                    f"phases {dict(sorted(counts.items()))}, RSS {rss:.1f} MiB")
                next_progress += PROGRESS_INTERVAL
            did = self.churn_step()
            steps += 1
            if self.a.verbose:
                log(did)
            time.sleep(self.rng.uniform(0.5, 2.5))
        self.sample_rss(True)
        log(f"churn done: {steps} actions {dict(sorted(self.actions.items()))}")
        return True

    def unconverged_reason(self, t):
        s = self.status(t.name)
        if not s:
            return "no status file"
        phase = s.get("phase")
        if phase != "Running":
            return f"phase {phase}" + (f" ({s['lastError'][:200]})" if s.get("lastError") else "")
        if s.get("health") != "healthy":
            return f"health {s.get('health')}"
        if s.get("specHash") != s.get("observedHash"):
            return "specHash != observedHash"
        c = self.inspect("container", [f"{self.instance}_{t.name}"])
        if not c:
            return "no container"
        c = c[0]
        state = c.get("State", {})
        if not state.get("Running"):
            return f"container {state.get('Status')}"
        if (state.get("Health") or {}).get("Status") != "healthy":
            return f"container health {(state.get('Health') or {}).get('Status')}"
        if c.get("Id") != s.get("containerId"):
            return "status containerId is not the container's"
        if f"GREETING={t.greeting}" not in (c.get("Config", {}).get("Env") or []):
            return "container env is not the spec's"
        if c.get("HostConfig", {}).get("Memory") != MEMORY[t.memory]:
            return f"container memory {c.get('HostConfig', {}).get('Memory')} != {MEMORY[t.memory]}"
        d = self.secrets_dir / t.name
        try:
            files = {p.name: p.read_text() for p in d.iterdir()}
        except OSError:
            return "no secrets directory"
        want = {name: value for name, (value, _) in t.secrets.items()}
        if files != want:
            return f"secret files {sorted(files)} do not hold the spec's values {sorted(want)}"
        return None

    def nudge_rolled_back(self, t):
        s = self.status(t.name) or {}
        rb = s.get("rolledBack") or {}
        if s.get("phase") != "RolledBack" or t.nudged or rb.get("specHash") != s.get("specHash"):
            return
        t.nudged = True
        t.greeting = f"hello-{self.next_id()}"
        self.write(t, self.render(t))
        killed = time.monotonic() - t.last_kill < 60
        self.notes.append(
            f"{t.name} was RolledBack ({rb.get('reason')}); its env was edited to try again"
            + ("" if killed else " (NOT killed by the soak within the previous 60 s)")
        )
        log(self.notes[-1])

    def converge(self):
        for t in sorted(self.present.values(), key=lambda t: t.name):
            if t.broken:
                log(self.fix(t))
        start = time.monotonic()
        deadline = start + self.a.converge_timeout
        next_rss = start
        reasons, plan_note = {}, ""
        while True:
            now = time.monotonic()
            if now >= next_rss:
                self.sample_rss(False)
                next_rss += RSS_INTERVAL
            if not self.daemon_alive():
                return False, "the daemon is gone", reasons
            for t in self.present.values():
                self.nudge_rolled_back(t)
            reasons = {t.name: r for t in self.present.values() if (r := self.unconverged_reason(t))}
            if not reasons:
                p = run([self.tenantd, "--config", self.config, "plan", "--detailed-exitcode", "--output", "json"])
                if p.returncode == 0:
                    took = time.monotonic() - start
                    return True, f"{len(self.present)} tenants Running and healthy, plan has no changes, after {took:.0f} s", {}
                plan_note = f"plan exited {p.returncode}: " + self.plan_changes(p)
            if now >= deadline:
                detail = "; ".join(f"{n}: {r}" for n, r in sorted(reasons.items())) or plan_note
                return False, f"not converged after {self.a.converge_timeout} s: {detail}", reasons
            time.sleep(2)

    def plan_changes(self, p):
        try:
            plan = json.loads(p.stdout)
            return ", ".join(f"{t['tenant']} {t['change']}" for t in plan["tenants"] if t["change"] != "noChange")
        except (ValueError, KeyError):
            return (p.stderr or p.stdout).strip()[:300]

    # --- checks -----------------------------------------------------------------------------

    def result(self, verdict, name, detail):
        self.results.append((verdict, name, detail))

    def check_objects(self):
        present = set(self.present)
        deleted = sorted(self.ever - present)
        want = {f"{self.instance}_{n}" for n in present}
        containers = self.instance_objects("container")
        extra = [c for c in containers if c not in want]
        labelled = {
            c.get("Name", "").lstrip("/"): (c.get("Config", {}).get("Labels") or {}).get(TENANT_LABEL)
            for c in self.inspect("container", extra)
        }
        self.result(
            "FAIL" if extra else "PASS",
            "no orphaned containers",
            f"{len(containers)} containers, all of present specs"
            if not extra
            else "left: " + ", ".join(f"{n} (tenant {labelled.get(n)})" for n in extra),
        )
        networks = self.instance_objects("network")
        extra = [n for n in networks if n not in want]
        self.result(
            "FAIL" if extra else "PASS",
            "no orphaned networks",
            f"{len(networks)} networks, all of present specs" if not extra else "left: " + ", ".join(extra),
        )
        volumes = self.instance_objects("volume")
        kept = [v for v in volumes if not any(v.startswith(f"{self.instance}_{n}_vol-") for n in present)]
        self.result("INFO", "volumes of deleted tenants (kept by design)", f"{len(kept)} of {len(volumes)}: {', '.join(kept)}")
        stale = []
        for n in deleted:
            s = self.status(n)
            if s is not None and s.get("phase") != "Removed":
                stale.append(f"{n}: {s.get('phase')}")
        self.result(
            "FAIL" if stale else "PASS",
            "deleted tenants' status says Removed",
            f"{len(deleted)} deleted tenants" if not stale else "; ".join(stale),
        )

    def check_secret_files(self):
        problems = []
        try:
            dirs = sorted(p.name for p in self.secrets_dir.iterdir())
        except OSError as e:
            dirs = []
            problems.append(f"cannot list {self.secrets_dir}: {e}")
        # `.delivered/<tenant>.json` records what was delivered (hashes, no values); it goes with
        # the tenant like its secrets.
        records = self.secrets_dir / ".delivered"
        if ".delivered" in dirs:
            dirs.remove(".delivered")
            for r in sorted(records.iterdir()):
                if r.name.removesuffix(".json") not in self.present:
                    problems.append(f".delivered/{r.name} left for a deleted tenant")
        for d in dirs:
            if d not in self.present:
                files = sorted(p.name for p in (self.secrets_dir / d).iterdir()) if (self.secrets_dir / d).is_dir() else []
                problems.append(f"{d}/ left for a deleted tenant: {files}")
            else:
                temps = [p.name for p in (self.secrets_dir / d).iterdir() if p.name.endswith(".tmp")]
                if temps:
                    problems.append(f"{d}/ holds temporary files {temps}")
        for d in sorted((self.state_dir / "runtime-config").glob("*")):
            if d.name not in self.present:
                problems.append(f"runtime config {d} left for a deleted tenant")
        self.result(
            "FAIL" if problems else "PASS",
            "no plaintext left for deleted tenants",
            f"{len(dirs)} tenant directories, all of present specs" if not problems else "; ".join(problems),
        )

    def check_canaries(self):
        pattern = re.compile(re.escape(self.canary_prefix).encode() + rb"[0-9a-fx]*")
        sources = [("daemon log", Path(self.a.log).read_bytes())]
        for p in sorted(self.state_dir.rglob("*")):
            if p.is_file():
                sources.append((str(p), p.read_bytes()))
        containers = self.instance_objects("container")
        for c in self.inspect("container", containers):
            sources.append((f"docker inspect {c.get('Name', '').lstrip('/')}", json.dumps(c).encode()))
        for n in self.inspect("network", self.instance_objects("network")):
            sources.append((f"docker network inspect {n.get('Name')}", json.dumps(n).encode()))
        leaks = []
        for where, data in sources:
            found = sorted({m.group().decode() for m in pattern.finditer(data)})
            if found:
                leaks.append(f"{where}: {', '.join(found[:3])}" + (" …" if len(found) > 3 else ""))
        self.result(
            "FAIL" if leaks else "PASS",
            "no secret value outside the secrets directory",
            f"{len(self.canaries)} canaries, {len(sources)} sources searched" if not leaks else "; ".join(leaks),
        )

    def check_rss(self):
        churn = [rss for _, rss, churning in self.rss if churning]
        mib = lambda b: f"{b / (1 << 20):.1f} MiB"
        if len(churn) < RSS_MIN_SAMPLES:
            self.result("SKIP", "RSS stable", f"only {len(churn)} samples during churn (needs {RSS_MIN_SAMPLES})")
            return
        third = len(churn) // 3
        middle = statistics.median(churn[third : 2 * third])
        last = statistics.median(churn[2 * third :])
        limit = middle * (1 + RSS_GROWTH) + RSS_SLACK
        detail = (
            f"median of last third {mib(last)} vs middle third {mib(middle)} (limit {mib(limit)}); "
            f"first {mib(churn[0])}, peak {mib(max(r for _, r, _ in self.rss))}, final {mib(self.rss[-1][1])}, "
            f"{len(self.rss)} samples"
        )
        self.result("FAIL" if last > limit else "PASS", "RSS stable", detail)

    def check_log(self):
        text = Path(self.a.log).read_text(errors="replace")
        lines = text.splitlines()
        panics = [l for l in lines if "panicked" in l]
        self.result("FAIL" if panics else "PASS", "no panic in the daemon log", f"{len(lines)} lines" if not panics else panics[0][:300])
        levels = {lvl: sum(1 for l in lines if f" {lvl} " in l) for lvl in ("ERROR", "WARN")}
        kinds = {}
        for l in lines:
            if " ERROR " in l or " WARN " in l:
                msg = re.sub(r"^\S+\s+", "", l)
                key = re.sub(r"\b[0-9a-f]{12,}\b|\d+", "N", msg)[:160]
                kinds.setdefault(key, [0, msg[:400]])[0] += 1
        self.result("INFO", "daemon log warnings/errors", ", ".join(f"{k} {v}" for k, v in levels.items()))
        self.log_kinds = sorted(kinds.values(), key=lambda kv: -kv[0])[:12]

    def summary(self):
        print()
        print(f"== tenantd soak: seed {self.a.seed}, instance {self.instance}, {self.a.duration} s of churn ==")
        print(f"actions: {dict(sorted(self.actions.items()))}")
        print(f"phases seen (every {PHASE_INTERVAL:.0f} s, per tenant): {dict(sorted(self.phases_seen.items()))}")
        for count, example in list(self.problems_seen.values())[:15]:
            print(f"  seen {count} ×: {example}")
        for note in self.notes:
            print(f"NOTE  {note}")
        for verdict, name, detail in self.results:
            print(f"{verdict:5} {name}: {detail}")
            if name == "daemon log warnings/errors":
                for count, example in self.log_kinds:
                    print(f"      {count:4d} × {example}")
        failed = [r for r in self.results if r[0] == "FAIL"]
        print(f"== {'FAIL' if failed else 'PASS'}: {len(failed)} of {sum(r[0] in ('PASS', 'FAIL') for r in self.results)} checks failed ==")
        return not failed

    def run(self):
        log(f"seed {self.a.seed}: churning for {self.a.duration} s (SOAK_SEED={self.a.seed} replays the same choices)")
        churned = self.churn()
        converged, detail, _ = (False, "churn ended early", {})
        if churned:
            log(f"waiting up to {self.a.converge_timeout} s for {len(self.present)} specs to converge")
            converged, detail, _ = self.converge()
        alive = self.daemon_alive()
        self.result("PASS" if alive else "FAIL", "daemon alive", f"pid {self.pid}, state {self.daemon_state()}")
        self.result("PASS" if converged else "FAIL", "every spec converged", detail)
        self.check_objects()
        self.check_secret_files()
        self.check_canaries()
        self.check_rss()
        self.check_log()
        return self.summary()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    for arg in ("tenantd", "config", "tenants", "state", "secrets", "work", "instance", "image", "log"):
        p.add_argument(f"--{arg}", required=True)
    p.add_argument("--daemon-pid", type=int, required=True)
    p.add_argument("--duration", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--converge-timeout", type=int, default=120)
    p.add_argument("--verbose", action="store_true")
    sys.exit(0 if Soak(p.parse_args()).run() else 1)


if __name__ == "__main__":
    main()
