"""Starts mitmproxy 12 in-process with the Sekimori addons (``dlp run``).

Options that decide whether blocking can work are set here and protected: request bodies are
always buffered (``stream_large_bodies`` would forward before inspection), ``body_size_limit``
is ``inspect.max_body`` (for requests only: responses stream, see ``addons/mitm_patches.py``),
requests with conflicting framing headers are always refused (``validate_inbound_headers``),
and connections to upstream are lazy so a blocked upload never even opens a connection to
its destination.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from mitmproxy import addons as mitm_addons
from mitmproxy import exceptions, master, options

from addons.admission import SekimoriAdmission
from addons.mail import SekimoriMail
from addons.tunnel import SekimoriTunnel
from addons.web import SekimoriWeb
from dlp.config import Policy
from dlp.metrics import Metrics
from dlp.reload import PolicyWatcher
from dlp.runtime import Runtime

log = logging.getLogger("sekimori")

PROTECTED_OPTIONS = {
    "stream_large_bodies": "bodies would be forwarded before they are inspected",
    "body_size_limit": "set inspect.max_body in the policy file instead",
    "validate_inbound_headers": "requests with both Content-Length and Transfer-Encoding would be forwarded",
    "confdir": "use --data-dir; the CA lives in <data-dir>/mitmproxy",
    "listen_host": "use --listen",
    "listen_port": "use --listen",
}


class StartupError(Exception):
    """``dlp run`` cannot start; the message is the one-line reason for stderr."""


@dataclass
class RunSettings:
    policy: Policy
    listen: tuple[str, int]
    data_dir: Path
    metrics: Metrics
    mitm_sets: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    """Set once the proxy listens with its policy loaded; /readyz answers from it."""


class Banner:
    """Prints where the proxy listens and how to use it, once servers are up."""

    def __init__(self, settings: RunSettings):
        self.settings = settings

    def running(self) -> None:
        host, port = self.settings.listen
        ca = self.settings.data_dir / "mitmproxy" / "mitmproxy-ca-cert.pem"
        print(
            f"Sekimori proxy listening on http://{host}:{port}\n"
            f"  policy:   {self.settings.policy.path} (sha256 {self.settings.policy.sha256[:12]})\n"
            f"  CA cert:  {ca}\n"
            f"  try:      curl --proxy http://{host}:{port} --cacert {ca} https://example.com/\n"
            f"  browser:  set the HTTP and HTTPS proxy to {host}:{port} and trust the CA cert above",
            flush=True,
        )
        self.settings.ready.set()

    def done(self) -> None:
        self.settings.ready.clear()


def _apply_sets(opts: options.Options, sets: list[str]) -> None:
    for item in sets:
        key, sep, _value = item.partition("=")
        if not sep:
            raise StartupError(f"--set {item!r}: expected option=value")
        if key in PROTECTED_OPTIONS:
            raise StartupError(f"--set {key}: not allowed ({PROTECTED_OPTIONS[key]})")
    try:
        opts.set(*sets)
    except exceptions.OptionsError as e:
        raise StartupError(f"--set: {e}") from None


async def _serve(settings: RunSettings) -> None:
    host, port = settings.listen
    confdir = settings.data_dir / "mitmproxy"
    confdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    opts = options.Options(listen_host=host, listen_port=port, confdir=str(confdir))
    m = master.Master(opts)
    runtime = Runtime(settings.policy, settings.data_dir, settings.metrics)
    m.addons.add(*mitm_addons.default_addons())
    m.addons.add(SekimoriAdmission(runtime), SekimoriWeb(runtime), SekimoriTunnel(runtime), SekimoriMail(runtime),
                 Banner(settings))
    watcher = PolicyWatcher(Path(settings.policy.path), settings.policy, settings.metrics, runtime.swap)
    watcher.start()
    runtime.start()
    # These options are declared by the default addons, so they exist only now. The onboarding
    # app would answer http://mitm.it/ with mitmproxy's own pages (the CA path is in the banner).
    opts.update(body_size_limit=str(settings.policy.inspect.max_body), connection_strategy="lazy", onboarding=False)
    _apply_sets(opts, settings.mitm_sets)
    # Everything loaded so far lives as long as the process: out of the collector's sight, a
    # full collection (after a burst of large uploads, see addons/admission.py) stays cheap.
    gc.collect()
    gc.freeze()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, m.shutdown)
    try:
        await m.run()
    finally:
        await watcher.stop()
        await runtime.close()


def run(settings: RunSettings) -> None:
    """Run until SIGTERM/SIGINT. Raises StartupError for problems a user must fix."""
    logging.getLogger("mitmproxy").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):  # the signal handler normally wins
        asyncio.run(_serve(settings))
    sys.stdout.flush()
