"""The policy file: YAML in, a typed and validated ``Policy`` out.

Admins live in this file, so every error points at the offending key or value as
``PATH:LINE:COLUMN: message``. Validation runs in two passes: the JSON Schema shipped at
``config/dlp.schema.json`` (structure, types, enums) and semantic checks the schema cannot
express (unknown detector ids, duplicate rule names, a policy that would stop nothing).
Defaults live here, in one place.

A policy must be able to stop something: a file with no rule whose action is block or
quarantine (an empty file, one with only ``version: 1``, one whose rules all log) is refused
unless it says ``allow_no_stopping_rules: true``, so that an emptied or half-written file can
never switch the protection off, at start or on reload.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import ipaddress
import json
import os
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from dlp.detect.registry import DETECTOR_IDS
from dlp.identity import Network, user_key
from dlp.units import parse_duration, parse_size

DEPARTED_RULE = "departed-account"
"""The built-in rule that blocks every upload by an account in identity.departed."""

ACTIONS = ("allow", "log", "quarantine", "block")
"""Actions from least to most severe; the most severe matched action wins."""

MAX_POLICY_BYTES = 4 * 2**20
"""A policy file is a few KiB; anything this large is refused before it is read."""

STOPPING_ACTIONS = ("quarantine", "block")
"""Actions that keep a transfer from its destination; a valid policy has a rule with one."""

UNINSPECTABLE_REASONS = ("encrypted", "too_large", "corrupt", "timeout", "unsupported", "tunnel", "overloaded")
"""``tunnel``: bytes after CONNECT that are not HTTP (raw TCP, TLS that is not intercepted).
``overloaded``: no scanner free within inspect.queue_wait, or the queue full."""

# config/dlp.schema.json and config/dlp.yaml ship inside the package (dlp/data links to them,
# and a wheel carries copies), so an installed `dlp` validates and runs on the embedded defaults.
_DATA = Path(__file__).resolve().parent / "data"
SCHEMA_PATH = _DATA / "dlp.schema.json"
SHIPPED_CONFIG = _DATA / "dlp.yaml"


def severity(action: str) -> int:
    """Rank of an action: allow 0 < log 1 < quarantine 2 < block 3."""
    return ACTIONS.index(action)


@dataclass(frozen=True)
class ConfigProblem:
    """One error in the policy file, with the position of the key or value it is about."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class ConfigError(Exception):
    """The policy file cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class InspectSettings:
    """Limits of one transfer's inspection. Picklable: workers receive it."""

    max_body: int = 64 * 2**20
    max_expanded: int = 512 * 2**20
    max_ratio: int = 200
    max_depth: int = 5
    max_members: int = 10_000
    timeout: float = 10.0
    inline_max: int = 256 * 2**10
    workers: int = 2
    queue_max: int = 256
    queue_wait: float = 30.0
    max_in_flight: int = 256 * 2**20
    on_uninspectable: dict[str, str] = field(
        default_factory=lambda: {"encrypted": "quarantine", "default": "block"}
    )
    on_error: str = "block"

    def action_for(self, reason: str) -> str:
        """What an uninspectable transfer with ``reason`` gets."""
        return self.on_uninspectable.get(reason, self.on_uninspectable.get("default", "block"))


@dataclass(frozen=True)
class Window:
    """Distinct persons sent within ``period`` seconds, counted in the window of each subject
    in ``per`` (``user``, ``client_ip``); the rule matches when any of them reaches
    ``persons``, so changing one key (a claimed user name) does not reset the others."""

    persons: int
    period: float
    per: tuple[str, ...] = ("user",)


@dataclass(frozen=True)
class Condition:
    """A rule's ``when``: every given key must hold (numbers mean 'at least')."""

    persons: int | None = None
    findings: dict[str, int] = field(default_factory=dict)
    encrypted: bool | None = None
    window: Window | None = None


@dataclass(frozen=True)
class Scope:
    """Where a rule applies; each given key must match (globs, case-insensitive)."""

    destinations: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    protocols: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    name: str
    when: Condition
    action: str
    description: str = ""
    scope: Scope | None = None


@dataclass(frozen=True)
class Waiver:
    """An exception (``exceptions:`` in YAML): narrow, expiring, audited."""

    name: str
    users: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()
    protocols: tuple[str, ...] = ()
    rules: tuple[str, ...] | None = None      # None: waives every rule
    expires: datetime.date | None = None      # last day it applies
    description: str = ""


@dataclass(frozen=True)
class Identity:
    """Where users come from. ``header`` is believed only from ``trusted_networks``;
    ``departed`` holds user names and envelope senders as ``user_key`` (casefolded)."""

    header: str = ""
    trusted_networks: tuple[Network, ...] = ()
    departed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StateSettings:
    backend: str = "memory"
    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "sekimori:"


@dataclass(frozen=True)
class SmtpSettings:
    """The mail relay (``smtp`` in YAML). ``listen`` empty: the mail path is off."""

    listen: str = ""
    upstream: str = "127.0.0.1:25"
    upstream_starttls: str = "opportunistic"
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_implicit_listen: str = ""
    max_message: int = 50 * 2**20
    auth_htpasswd: str | None = None
    auth_required: bool = False


@dataclass(frozen=True)
class QuarantineSettings:
    retention: float = 30 * 86400
    approval_ttl: float = 86400
    key_file: str | None = None


@dataclass(frozen=True)
class WebhookSettings:
    url: str = ""
    timeout: float = 5.0
    retries: int = 3
    queue: int = 1000


@dataclass(frozen=True)
class IncidentSettings:
    rotate_bytes: int = 64 * 2**20
    keep: int = 10


@dataclass(frozen=True)
class TunnelSettings:
    """What may leave through CONNECT as something other than HTTP (``tunnels`` in YAML).

    Such a tunnel cannot be read as HTTP, so it is refused unless its destination is in
    ``allow`` (passed as opaque bytes, counted) or ``inspect`` scans its client bytes as text."""

    allow: tuple[str, ...] = ()        # "host:port" globs, lowercased; IPv6 as "[addr]:port"
    inspect: bool = False
    carry: int = 64 * 2**10            # bytes of the preceding stream scanned again with each message

    def allows(self, host: str, port: int) -> bool:
        """A glob matches both the host (case-insensitively) and the port. Host and port are
        matched apart so that an IPv6 literal's brackets are not read as a glob character class."""
        host = host.lower()
        return any(fnmatchcase(host, h) and fnmatchcase(str(port), p) for h, p in map(_split_hostport, self.allow))


def _split_hostport(glob: str) -> tuple[str, str]:
    host, _, port = glob.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


@dataclass(frozen=True)
class Policy:
    """Everything the engine, the addons and the CLI need from the file."""

    inspect: InspectSettings
    rules: tuple[Rule, ...]
    detectors_enabled: frozenset[str]
    contact: str = ""
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    identity: Identity = field(default_factory=Identity)
    exceptions: tuple[Waiver, ...] = ()
    state: StateSettings = field(default_factory=StateSettings)
    quarantine: QuarantineSettings = field(default_factory=QuarantineSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    incidents: IncidentSettings = field(default_factory=IncidentSettings)
    tunnels: TunnelSettings = field(default_factory=TunnelSettings)
    allow_no_stopping_rules: bool = False
    path: str = "<defaults>"
    sha256: str = ""
    warnings: tuple[ConfigProblem, ...] = ()

    def windows(self) -> tuple[Rule, ...]:
        """Rules with a cumulative window."""
        return tuple(r for r in self.rules if r.when.window is not None)

    def stopping_rules(self) -> tuple[Rule, ...]:
        """Rules whose action keeps a transfer from its destination (block, quarantine)."""
        return tuple(r for r in self.rules if r.action in STOPPING_ACTIONS)


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings (``expires: 2027-03-31`` stays text), so the
    schema sees what the admin wrote."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def default_config_path() -> Path:
    """``$DLP_CONFIG``, else ``./config/dlp.yaml``, else the defaults embedded in the package."""
    env = os.environ.get("DLP_CONFIG")
    if env:
        return Path(env)
    local = Path("config/dlp.yaml")
    return local if local.exists() else SHIPPED_CONFIG


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read, validate and compile a policy file; raise ConfigError with positions."""
    p = str(path)
    try:
        if os.stat(p).st_size > MAX_POLICY_BYTES:
            raise ConfigError([ConfigProblem(p, 1, 1, f"larger than {MAX_POLICY_BYTES} bytes: not a policy file")])
        raw = Path(p).read_bytes()
    except OSError as e:
        raise ConfigError([ConfigProblem(p, 1, 1, f"cannot read: {e.strerror or e}")]) from None
    return parse_policy(raw, p)


def parse_policy(raw: bytes, path: str = "<string>") -> Policy:
    """Validate ``raw`` YAML bytes and build a Policy."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError([ConfigProblem(path, 1, 1, f"not UTF-8 text: {e.reason}")]) from None
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        msg = " ".join(x for x in (e.context, e.problem) if x) or "invalid YAML"
        raise ConfigError([ConfigProblem(path, line, col, f"YAML syntax: {msg}")]) from None
    except yaml.YAMLError as e:
        raise ConfigError([ConfigProblem(path, 1, 1, f"YAML syntax: {e}")]) from None
    if data is None:  # nothing but whitespace or comments: say so rather than "version is missing"
        raise ConfigError([ConfigProblem(path, 1, 1, "the policy file is empty: a policy needs `version: 1` and at "
                                                     "least one rule whose action is block or quarantine")])
    locator = _Locator(path, node)
    problems = locator.duplicate_keys()
    if not isinstance(data, dict):
        raise ConfigError([locator.at([], "the file must be a mapping of keys (version, rules, ...)")])
    validator = jsonschema.Draft202012Validator(_schema())
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = list(err.absolute_path)
        if err.validator == "additionalProperties":  # point at the unknown key itself
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            problems.append(locator.at([*where, extra[0]], _schema_message(err), key=True))
        else:
            problems.append(locator.at(where, _schema_message(err)))
    if problems:
        raise ConfigError(problems)
    problems.extend(_semantic_problems(data, locator))
    if problems:
        raise ConfigError(problems)
    policy = _build(data, path, hashlib.sha256(raw).hexdigest())
    today = datetime.date.today()
    warnings = tuple(
        locator.at(["exceptions", i, "expires"], f"warning: exception {w.name!r} expired on {w.expires}")
        for i, w in enumerate(policy.exceptions) if w.expires is not None and w.expires < today
    )
    if not policy.stopping_rules():  # allowed explicitly, else _semantic_problems refused it
        warnings += (locator.at(["allow_no_stopping_rules"],
                                "warning: this policy stops nothing (no rule blocks or quarantines; "
                                "allow_no_stopping_rules: true)", key=True),)
    if policy.identity.header and not policy.identity.trusted_networks:
        warnings += (locator.at(["identity", "header"],
                                f"warning: identity.header {policy.identity.header} is ignored: "
                                "identity.trusted_networks is empty (any client could claim any user)"),)
    return dataclasses.replace(policy, warnings=warnings)


def _schema_message(err: jsonschema.ValidationError) -> str:
    where = ".".join(str(x) for x in err.absolute_path) or "(top level)"
    if err.validator == "required" and not err.absolute_path and "'version'" in err.message:
        return "version is missing: a policy file must say `version: 1` (the schema version it is written for)"
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(sorted(err.schema.get("properties", {})))
        return f"unknown key {', '.join(map(repr, extra))} in {where} (allowed: {allowed})"
    if err.validator == "enum":
        return f"{where}: {err.instance!r} is not one of {', '.join(err.validator_value)}"
    if err.validator == "oneOf" and isinstance(err.instance, str):
        if "ms|s|m|h" in json.dumps(err.schema):
            return f"{where}: {err.instance!r} is not a valid duration (use e.g. 500ms, 10s, 5m, 24h, 30d)"
        return f"{where}: {err.instance!r} is not a valid size (use e.g. 512KiB, 64MiB, 1GiB)"
    if err.validator == "pattern" and list(err.absolute_path)[:2] == ["tunnels", "allow"]:
        return (f"{where}: {err.instance!r} is not a host:port glob "
                f"(e.g. \"mx.example.com:25\", \"*.example.net:443\", \"10.0.0.5:*\", \"[2001:db8::1]:22\")")
    return f"{where}: {err.message}"


def _semantic_problems(data: dict[str, Any], loc: _Locator) -> list[ConfigProblem]:
    problems = []
    seen: set[str] = set()
    for i, rule in enumerate(data.get("rules") or []):
        name = rule["name"]
        if name in seen:
            problems.append(loc.at(["rules", i, "name"], f"duplicate rule name {name!r}"))
        seen.add(name)
        for det in (rule["when"].get("findings") or {}):
            if det not in DETECTOR_IDS:
                problems.append(loc.at(["rules", i, "when", "findings", det],
                                       f"unknown detector id {det!r} "
                                       f"(known: {', '.join(DETECTOR_IDS)})", key=True))
    for i, rule in enumerate(data.get("rules") or []):
        window = rule["when"].get("window")
        if window is not None:
            try:
                if parse_duration(window["period"]) <= 0:
                    problems.append(loc.at(["rules", i, "when", "window", "period"], "period must be positive"))
            except ValueError as e:
                problems.append(loc.at(["rules", i, "when", "window", "period"], str(e)))
    names = {r["name"] for r in data.get("rules") or []}
    seen_exc: set[str] = set()
    for i, exc in enumerate(data.get("exceptions") or []):
        if exc["name"] in seen_exc:
            problems.append(loc.at(["exceptions", i, "name"], f"duplicate exception name {exc['name']!r}"))
        seen_exc.add(exc["name"])
        for j, rule in enumerate(exc.get("rules") or []):
            if rule not in names and rule != DEPARTED_RULE:
                problems.append(loc.at(["exceptions", i, "rules", j], f"unknown rule {rule!r}"))
            if rule == DEPARTED_RULE:
                problems.append(loc.at(["exceptions", i, "rules", j],
                                       f"{DEPARTED_RULE} cannot be waived"))
        if "expires" in exc:
            try:
                datetime.date.fromisoformat(exc["expires"])
            except ValueError:
                problems.append(loc.at(["exceptions", i, "expires"], f"not a date: {exc['expires']!r}"))
    if DEPARTED_RULE in names:
        idx = [r["name"] for r in data["rules"]].index(DEPARTED_RULE)
        problems.append(loc.at(["rules", idx, "name"], f"{DEPARTED_RULE!r} is reserved for identity.departed"))
    for section, key, parse in (("quarantine", "retention", parse_duration),
                                ("quarantine", "approval_ttl", parse_duration),
                                ("incidents", "rotate_bytes", parse_size)):
        if key in (data.get(section) or {}):
            try:
                parse(data[section][key])
            except ValueError as e:
                problems.append(loc.at([section, key], str(e)))
    for i, cidr in enumerate((data.get("identity") or {}).get("trusted_networks") or []):
        problem = _network_problem(cidr)
        if problem:
            problems.append(loc.at(["identity", "trusted_networks", i], problem))
    problems.extend(_stopping_problems(data, loc))
    state = data.get("state") or {}
    if state.get("backend") == "redis" and not state.get("url"):
        problems.append(loc.at(["state"], "state.backend redis needs state.url (redis://host:port/db)"))
    for det in (data.get("detectors") or {}):
        if det not in DETECTOR_IDS:
            problems.append(loc.at(["detectors", det], f"unknown detector id {det!r}", key=True))
    tunnels = data.get("tunnels") or {}
    for i, glob in enumerate(tunnels.get("allow") or []):
        port = glob.rpartition(":")[2]
        if port.isdigit() and not 1 <= int(port) <= 65535:
            problems.append(loc.at(["tunnels", "allow", i], f"port {port} of {glob!r} is not 1-65535"))
    if "carry" in tunnels:
        try:
            parse_size(tunnels["carry"])
        except ValueError as e:
            problems.append(loc.at(["tunnels", "carry"], str(e)))
    inspect = data.get("inspect") or {}
    if "max_message" in (data.get("smtp") or {}):
        try:
            parse_size(data["smtp"]["max_message"])
        except ValueError as e:
            problems.append(loc.at(["smtp", "max_message"], str(e)))
    for key, parse in (("max_body", parse_size), ("max_expanded", parse_size),
                       ("inline_max", parse_size), ("timeout", parse_duration), ("queue_wait", parse_duration),
                       ("max_in_flight", parse_size)):
        if key in inspect:
            try:
                parse(inspect[key])
            except ValueError as e:
                problems.append(loc.at(["inspect", key], str(e)))
    return problems


def _stopping_problems(data: dict[str, Any], loc: _Locator) -> list[ConfigProblem]:
    """A policy with no rule that blocks or quarantines would let everything through: an
    error unless the file says ``allow_no_stopping_rules: true``."""
    rules = data.get("rules") or []
    if data.get("allow_no_stopping_rules") or any(r["action"] in STOPPING_ACTIONS for r in rules):
        return []
    fix = "add one, or set allow_no_stopping_rules: true if a policy that stops nothing is intended"
    if not rules:
        return [loc.at(["rules"] if "rules" in data else [], f"policy would stop nothing: it has no rules ({fix})",
                       key=True)]
    actions = ", ".join(sorted({r["action"] for r in rules}))
    return [loc.at(["rules"], f"policy would stop nothing: none of its {len(rules)} rules blocks or quarantines "
                              f"(actions: {actions}; {fix})", key=True)]


def _build(data: dict[str, Any], path: str, sha: str) -> Policy:
    ins = data.get("inspect") or {}
    base = InspectSettings()
    on_unins = dict(base.on_uninspectable)
    on_unins.update(ins.get("on_uninspectable") or {})
    inspect = InspectSettings(
        max_body=parse_size(ins.get("max_body", base.max_body)),
        max_expanded=parse_size(ins.get("max_expanded", base.max_expanded)),
        max_ratio=int(ins.get("max_ratio", base.max_ratio)),
        max_depth=int(ins.get("max_depth", base.max_depth)),
        max_members=int(ins.get("max_members", base.max_members)),
        timeout=parse_duration(ins.get("timeout", base.timeout)),
        inline_max=parse_size(ins.get("inline_max", base.inline_max)),
        workers=int(ins.get("workers", base.workers)),
        queue_max=int(ins.get("queue_max", base.queue_max)),
        queue_wait=parse_duration(ins.get("queue_wait", base.queue_wait)),
        max_in_flight=parse_size(ins.get("max_in_flight", base.max_in_flight)),
        on_uninspectable=on_unins,
        on_error=ins.get("on_error", base.on_error),
    )
    rules = tuple(
        Rule(
            name=r["name"],
            description=r.get("description", ""),
            action=r["action"],
            when=Condition(
                persons=r["when"].get("persons"),
                findings=dict(r["when"].get("findings") or {}),
                encrypted=r["when"].get("encrypted"),
                window=_window(r["when"].get("window")),
            ),
            scope=_scope(r.get("scope")),
        )
        for r in data.get("rules") or []
    )
    exceptions = tuple(
        Waiver(
            name=e["name"],
            description=e.get("description", ""),
            users=tuple(user_key(u) for u in e.get("users") or ()),
            destinations=tuple(d.lower() for d in e.get("destinations") or ()),
            protocols=tuple(e.get("protocols") or ()),
            rules=tuple(e["rules"]) if e.get("rules") else None,
            expires=datetime.date.fromisoformat(e["expires"]) if e.get("expires") else None,
        )
        for e in data.get("exceptions") or []
    )
    q = data.get("quarantine") or {}
    wh = (data.get("notify") or {}).get("webhook") or {}
    inc = data.get("incidents") or {}
    quarantine = QuarantineSettings(
        retention=parse_duration(q.get("retention", QuarantineSettings.retention)),
        approval_ttl=parse_duration(q.get("approval_ttl", QuarantineSettings.approval_ttl)),
        key_file=q.get("key_file"),
    )
    webhook = WebhookSettings(url=wh.get("url", ""), timeout=parse_duration(wh.get("timeout", WebhookSettings.timeout)),
                              retries=int(wh.get("retries", WebhookSettings.retries)),
                              queue=int(wh.get("queue", WebhookSettings.queue)))
    incident_settings = IncidentSettings(
        rotate_bytes=parse_size(inc.get("rotate_bytes", IncidentSettings.rotate_bytes)),
        keep=int(inc.get("keep", IncidentSettings.keep)),
    )
    ident = data.get("identity") or {}
    st = data.get("state") or {}
    base_state = StateSettings()
    sm = data.get("smtp") or {}
    tls = sm.get("tls") or {}
    auth = sm.get("auth") or {}
    smtp = SmtpSettings(
        listen=sm.get("listen", ""),
        upstream=sm.get("upstream", SmtpSettings.upstream),
        upstream_starttls=sm.get("upstream_starttls", SmtpSettings.upstream_starttls),
        tls_cert=tls.get("cert"),
        tls_key=tls.get("key"),
        tls_implicit_listen=tls.get("implicit_listen", ""),
        max_message=parse_size(sm.get("max_message", SmtpSettings.max_message)),
        auth_htpasswd=auth.get("htpasswd"),
        auth_required=bool(auth.get("required", False)),
    )
    tun = data.get("tunnels") or {}
    tunnels = TunnelSettings(allow=tuple(g.lower() for g in tun.get("allow") or ()),
                             inspect=bool(tun.get("inspect", TunnelSettings.inspect)),
                             carry=parse_size(tun.get("carry", TunnelSettings.carry)))
    dets = data.get("detectors") or {}
    enabled = frozenset(d for d in DETECTOR_IDS if dets.get(d, {}).get("enabled", True))
    return Policy(
        inspect=inspect,
        rules=rules,
        detectors_enabled=enabled,
        contact=(data.get("notify") or {}).get("contact", ""),
        smtp=smtp,
        identity=Identity(header=ident.get("header", ""),
                          trusted_networks=tuple(ipaddress.ip_network(n) for n in ident.get("trusted_networks") or ()),
                          departed=frozenset(user_key(d) for d in ident.get("departed") or ())),
        exceptions=exceptions,
        state=StateSettings(backend=st.get("backend", base_state.backend), url=st.get("url", base_state.url),
                            key_prefix=st.get("key_prefix", base_state.key_prefix)),
        quarantine=quarantine,
        webhook=webhook,
        incidents=incident_settings,
        tunnels=tunnels,
        allow_no_stopping_rules=bool(data.get("allow_no_stopping_rules", False)),
        path=path,
        sha256=sha,
    )


def _window(w: dict[str, Any] | None) -> Window | None:
    if w is None:
        return None
    per = w.get("per", Window.per)
    return Window(persons=int(w["persons"]), period=parse_duration(w["period"]),
                  per=(per,) if isinstance(per, str) else tuple(per))


def _network_problem(cidr: str) -> str | None:
    """Why ``cidr`` is not a network to trust, or None. Host bits set (10.0.0.5/8) are an
    error rather than silently widened: trusting a network is a security decision."""
    try:
        ipaddress.ip_network(cidr)
    except ValueError:
        try:
            wider = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return f"identity.trusted_networks: {cidr!r} is not an IPv4 or IPv6 network (e.g. 10.0.0.0/8, fd00::/8)"
        return f"identity.trusted_networks: {cidr!r} has host bits set (the network is {wider})"
    return None


def _scope(sc: dict[str, Any] | None) -> Scope | None:
    if not sc:
        return None
    return Scope(destinations=tuple(d.lower() for d in sc.get("destinations") or ()),
                 users=tuple(user_key(u) for u in sc.get("users") or ()), protocols=tuple(sc.get("protocols") or ()))


class _Locator:
    """Maps a path of keys and indexes in the data to a line and column in the file."""

    def __init__(self, path: str, root: yaml.Node | None):
        self.path = path
        self.root = root

    def at(self, keys: list[Any], message: str, key: bool = False) -> ConfigProblem:
        node, key_node = self.root, None
        for k in keys:
            if isinstance(node, yaml.MappingNode):
                found = next(((kn, vn) for kn, vn in node.value if kn.value == str(k)), None)
                if found is None:
                    break
                key_node, node = found
            elif isinstance(node, yaml.SequenceNode) and isinstance(k, int) and k < len(node.value):
                key_node, node = None, node.value[k]
            else:
                break
        target = key_node if (key and key_node is not None) else node
        if target is None:
            return ConfigProblem(self.path, 1, 1, message)
        return ConfigProblem(self.path, target.start_mark.line + 1,
                             target.start_mark.column + 1, message)

    def duplicate_keys(self) -> list[ConfigProblem]:
        problems: list[ConfigProblem] = []
        stack = [self.root] if self.root is not None else []
        while stack:
            node = stack.pop()
            if isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                for kn, vn in node.value:
                    if kn.value in seen:
                        problems.append(ConfigProblem(self.path, kn.start_mark.line + 1,
                                                      kn.start_mark.column + 1,
                                                      f"duplicate key {kn.value!r}"))
                    seen.add(kn.value)
                    stack.append(vn)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)
        return problems
