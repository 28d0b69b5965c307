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

from dlp import __version__
from dlp.config import ConfigError, Policy, default_config_path, load_policy


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

    os.umask(0o077)  # CA key, incidents and quarantine are readable by this account only
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    pol = _policy(args.config)
    try:
        _check_port(*args.listen, "proxy")
        _check_port(*args.metrics, "metrics")
        args.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        m = metrics.Metrics()
        metrics.serve(*args.metrics, m.registry, ready=lambda: True)
        proxy.run(proxy.RunSettings(policy=pol, listen=args.listen, data_dir=args.data_dir,
                                    metrics=m, mitm_sets=args.sets))
    except proxy.StartupError as e:
        return _die(str(e))
    except OSError as e:
        return _die(f"cannot start: {e.strerror or e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
