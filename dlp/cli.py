"""The ``dlp`` command: thin verbs over the engine, the policy and the proxy.

Exit codes: 0 done, 1 a check failed (check-config), 2 usage, config or startup error with
a one-line reason on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dlp import __version__
from dlp.config import ConfigError, Policy, default_config_path, load_policy

if TYPE_CHECKING:
    from dlp.quarantine import Quarantine


def _hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dlp", description="Sekimori egress DLP proxy")
    p.add_argument("--version", action="version", version=f"sekimori {__version__}")
    sub = p.add_subparsers(dest="verb", required=True)

    run = sub.add_parser("run", help="run the proxy")
    run.add_argument("--config", type=Path, default=None, help="policy file (default config/dlp.yaml)")
    run.add_argument("--listen", type=_hostport, default=("127.0.0.1", 8080), metavar="HOST:PORT")
    run.add_argument("--metrics", type=_hostport, default=("127.0.0.1", 9464), metavar="HOST:PORT")
    run.add_argument("--data-dir", type=Path, default=Path("var"), metavar="DIR")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="OPTION=VALUE",
                     help="a mitmproxy option (repeatable)")

    scan = sub.add_parser("scan", help="inspect files offline as if each were one upload")
    scan.add_argument("--config", type=Path, default=None)
    scan.add_argument("--json", action="store_true", help="one JSON object per file and line")
    scan.add_argument("--user", default=None, help="evaluate as uploads by this user")
    scan.add_argument("--destination", default=None, help="evaluate as uploads to this host")
    scan.add_argument("--client-ip", default=None, help="evaluate as uploads from this address")
    scan.add_argument("files", nargs="+", metavar="FILE")

    chk = sub.add_parser("check-config", help="validate a policy file")
    chk.add_argument("path", type=Path, nargs="?", default=None)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=Path("var"), metavar="DIR")
    common.add_argument("--config", type=Path, default=None)

    inc = sub.add_parser("incidents", help="the incident log").add_subparsers(dest="action_verb", required=True)
    il = inc.add_parser("list", parents=[common], help="incidents, newest last")
    il.add_argument("--since", default=None, help="e.g. 24h, 7d")
    il.add_argument("--action", choices=("log", "quarantine", "block", "allow"), default=None)
    il.add_argument("--json", action="store_true")
    inc.add_parser("show", parents=[common], help="one incident").add_argument("id")
    inc.add_parser("report", parents=[common], help="draft the PPC breach report").add_argument("id")

    q = sub.add_parser("quarantine", help="held transfers").add_subparsers(dest="action_verb", required=True)
    q.add_parser("list", parents=[common]).add_argument("--json", action="store_true")
    for verb in ("show", "release", "reject"):
        q.add_parser(verb, parents=[common]).add_argument("id")
    qe = q.add_parser("export", parents=[common], help="write the payload exactly as sent")
    qe.add_argument("id")
    qe.add_argument("--out", type=Path, required=True)
    return p


def _die(message: str) -> int:
    print(f"dlp: {message}", file=sys.stderr)
    return 2


def _policy(path: Path | None) -> Policy:
    return load_policy(path or default_config_path())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.verb == "run":
            return _run(args)
        if args.verb == "scan":
            return _scan(args)
        if args.verb == "incidents":
            return _incidents(args)
        if args.verb == "quarantine":
            return _quarantine(args)
        return _check_config(args)
    except ConfigError as e:
        return _die(f"config error: {e}")
    except BrokenPipeError:
        return 0


def _check_config(args: argparse.Namespace) -> int:
    path = args.path or default_config_path()
    try:
        pol = load_policy(path)
    except ConfigError as e:
        for problem in e.problems:
            print(problem, file=sys.stderr)
        return 1
    for warning in pol.warnings:
        print(warning, file=sys.stderr)
    print(f"{path}: OK ({len(pol.rules)} rules, {len(pol.exceptions)} exceptions)")
    return 0


def _scan(args: argparse.Namespace) -> int:
    import asyncio

    from dlp import engine, report
    from dlp.decider import decide_with_state
    from dlp.model import Transfer
    from dlp.state.memory import MemoryState

    pol = _policy(args.config)
    for w in pol.warnings:
        print(w, file=sys.stderr)
    for f in args.files:
        if not os.path.isfile(f):
            return _die(f"scan: {f}: no such file")
    # The proxy's decision path with an in-memory state: windows accumulate over the files
    # in order, as consecutive uploads would; nothing is written anywhere.
    state = MemoryState()
    for f in args.files:
        try:
            data = Path(f).read_bytes()
        except OSError as e:
            return _die(f"scan: {f}: {e.strerror}")
        transfer = Transfer(protocol="http", body=data, filename=os.path.basename(f), user=args.user,
                            host=args.destination or "", client_ip=args.client_ip, method="POST")
        result = engine.scan(transfer, pol.inspect, pol.detectors_enabled)
        decision = asyncio.run(decide_with_state(state, transfer, result, pol))
        if args.json:
            print(json.dumps({
                "file": f,
                "action": decision.action,
                "rules": list(decision.rules),
                "exception": decision.exception,
                "persons": result.persons,
                "findings": result.findings,
                "encrypted": result.encrypted,
                "errors": result.errors,
                "uninspectable": list(decision.uninspectable),
                "evidence": result.evidence,
                "seconds": round(result.seconds, 4),
            }, ensure_ascii=False), flush=True)
        else:
            print(report.human(f, result, decision), flush=True)
    return 0


def _incidents(args: argparse.Namespace) -> int:
    from dlp import ppc_report
    from dlp.incidents import IncidentLog
    from dlp.units import parse_duration

    pol = _policy(args.config)
    log = IncidentLog(args.data_dir, pol.incidents.rotate_bytes, pol.incidents.keep)
    if args.action_verb in ("show", "report"):
        found = log.find(args.id)
        if found is None:
            return _die(f"incidents: no incident {args.id} in {log.path}")
        print(ppc_report.draft(found) if args.action_verb == "report"
              else json.dumps(found, ensure_ascii=False, indent=2))
        return 0
    items = log.read()
    if args.since:
        import datetime
        try:
            cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=parse_duration(args.since))
        except ValueError as e:
            return _die(f"incidents: --since: {e}")
        items = [i for i in items if datetime.datetime.fromisoformat(i["time"].replace("Z", "+00:00")) >= cutoff]
    if args.action:
        items = [i for i in items if i.get("action") == args.action]
    if args.json:
        print(json.dumps(items, ensure_ascii=False))
        return 0
    for i in items:
        print(f"{i['id']}  {i['time']}  {i['action']:<10} {i.get('severity', '-'):<8} "
              f"persons={i.get('persons', 0):<6} user={i.get('user') or '-'} "
              f"dest={(i.get('destination') or {}).get('host') or '-'} rules={','.join(i.get('rules') or []) or '-'}")
    return 0


def _quarantine(args: argparse.Namespace) -> int:
    import asyncio

    from dlp.quarantine import Quarantine, QuarantineError

    pol = _policy(args.config)
    q = Quarantine(args.data_dir, pol.quarantine.key_file, pol.quarantine.retention)
    try:
        if args.action_verb == "list":
            items = q.items()
            if args.json:
                print(json.dumps([{"id": i.id, "time": i.time, "protocol": i.protocol, "rules": i.rules,
                                   "user": i.user, "persons": i.persons, "size": i.size, "state": i.state,
                                   "destination": i.destination} for i in items], ensure_ascii=False))
            else:
                for i in items:
                    print(f"{i.id}  {i.time}  {i.state:<9} {i.protocol:<5} persons={i.persons:<6} size={i.size:<9} "
                          f"user={i.user or '-'} rules={','.join(i.rules)}")
            return 0
        if args.action_verb == "show":
            item = q.get(args.id)
            from dlp.incidents import IncidentLog
            incident = IncidentLog(args.data_dir).find(args.id) or {}
            print(json.dumps({**item.public(), "evidence": incident.get("evidence"),
                              "findings": incident.get("findings")}, ensure_ascii=False, indent=2))
            return 0
        if args.action_verb == "export":
            held = q.content(args.id)
            fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(held.payload)
            logging.getLogger("sekimori.audit").warning("quarantine item %s exported to %s by uid %d",
                                                        args.id, args.out, os.getuid())
            _audit(args.data_dir, "export", args.id, str(args.out))
            print(f"{args.id}: {len(held.payload)} bytes written to {args.out}")
            return 0
        if args.action_verb == "reject":
            q.set_state(args.id, "rejected", f"rejected by uid {os.getuid()}", delete_content=True)
            _audit(args.data_dir, "reject", args.id, "")
            print(f"{args.id}: rejected, content deleted")
            return 0
        return asyncio.run(_release(args, pol, q))
    except QuarantineError as e:
        return _die(f"quarantine: {e}")


async def _release(args: argparse.Namespace, pol: Policy, q: Quarantine) -> int:
    """HTTP: grant a one-time approval for the same user, content and destination. Mail:
    deliver the held message upstream exactly as received, once."""
    from dlp.quarantine import QuarantineError
    from dlp.runtime import approval_key
    from dlp.state import open_backend

    item = q.get(args.id)
    if item.state != "held":
        raise QuarantineError(f"item {args.id} is already {item.state}")
    if item.protocol == "smtp":
        from dlp.mail.deliver import deliver

        held = q.content(args.id)
        try:
            await deliver(pol.smtp, held.envelope["sender"], held.envelope["recipients"], held.payload)
        except Exception as e:  # the message stays held: nothing is lost
            return _die(f"quarantine: delivery of {args.id} failed, still held: {type(e).__name__}: {e}")
        q.set_state(args.id, "released", "delivered upstream", delete_content=True)
        _audit(args.data_dir, "release", args.id, "delivered")
        print(f"{args.id}: delivered upstream")
        return 0
    state = open_backend(pol.state, args.data_dir)
    try:
        key = approval_key(item.user, item.destination.get("host", ""), item.payload_sha256)
        await state.approval_put(key, args.id, pol.quarantine.approval_ttl)
    finally:
        await state.close()
    q.set_state(args.id, "released", "one-time approval granted", delete_content=True)
    _audit(args.data_dir, "release", args.id, "approval")
    print(f"{args.id}: released; {item.user or 'the user'} may send the same content to "
          f"{item.destination.get('host')} once within {pol.quarantine.approval_ttl / 3600:g}h")
    return 0


def _audit(data_dir: Path, verb: str, item_id: str, detail: str) -> None:
    """Review actions are audited next to the incidents."""
    import datetime
    line = json.dumps({"time": datetime.datetime.now(datetime.UTC).isoformat(), "verb": verb, "id": item_id,
                       "detail": detail, "uid": os.getuid()}) + "\n"
    fd = os.open(Path(data_dir) / "audit.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_port(host: str, port: int, what: str) -> None:
    from dlp.proxy import StartupError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise StartupError(f"cannot resolve {what} address {host!r}: {e.strerror}") from None
    family, _t, _p, _c, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            reason = "address already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
            raise StartupError(f"cannot listen on {host}:{port} ({what}): {reason}") from None


def _run(args: argparse.Namespace) -> int:
    from dlp import metrics, proxy
    from dlp.keyfiles import exposed, key_files

    os.umask(0o077)  # CA key, incidents and quarantine are readable by this account only
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    pol = _policy(args.config)
    for warning in pol.warnings:  # the same ones check-config prints and a reload logs
        logging.getLogger("sekimori.config").warning("%s", warning)
    try:
        loose = exposed(key_files(args.data_dir, pol))
        if loose:
            raise proxy.StartupError("; ".join(loose))
        _check_port(*args.listen, "proxy")
        _check_port(*args.metrics, "metrics")
        smtp_ports = ((pol.smtp.listen, "smtp.listen"), (pol.smtp.tls_implicit_listen, "smtp.tls.implicit_listen"))
        for addr, what in smtp_ports:
            if addr:
                _check_port(*_hostport(addr), what)
        args.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        m = metrics.Metrics()
        settings = proxy.RunSettings(policy=pol, listen=args.listen, data_dir=args.data_dir,
                                     metrics=m, mitm_sets=args.sets)
        metrics.serve(*args.metrics, m.registry, ready=settings.ready.is_set)
        proxy.run(settings)
    except proxy.StartupError as e:
        return _die(str(e))
    except OSError as e:
        return _die(f"cannot start: {e.strerror or e}")
    return 0


def entry() -> None:
    """The ``dlp`` command. ``dlp scan`` leaves by ``os._exit`` once its output is flushed:
    it holds nothing to save, and unwinding the interpreter (the engine's modules, caches,
    dictionaries) would add ~50 ms to every scan, a twentieth of a large list's."""
    rc = main()
    if len(sys.argv) > 1 and sys.argv[1] == "scan":
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            pass
        os._exit(rc)
    sys.exit(rc)


if __name__ == "__main__":
    entry()
