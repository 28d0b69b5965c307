"""Outbound mail: the SMTP relay (``dlp/mail``) run by ``dlp run`` next to the HTTP proxy.

mitmproxy has no SMTP layer and cannot intercept STARTTLS (its issues #4215, #5071), so
this addon does not touch flows: it starts an aiosmtpd relay on mitmproxy's event loop in
``running`` and stops it in ``done``. Relay and web addon share one Runtime: the same
engine, policy, incidents and metrics.

A relay that cannot start (port in use, unreadable certificate or htpasswd) must not leave a
proxy running without its mail path: the reason is logged as an error, kept in
``startup_error``, and ``running`` raises SystemExit(2), the exit code of ``dlp run`` for
startup errors. mitmproxy's own errorcheck addon ends a failed startup the same way
(``sys.exit`` from the event loop), so ``done`` hooks and ``dlp run``'s clean-up still run.
"""

from __future__ import annotations

import logging
import sys

from dlp.mail.server import MailRelay, RelayStartError
from dlp.runtime import Runtime

log = logging.getLogger("sekimori.mail")

STARTUP_ERROR_EXIT = 2
"""``dlp``'s exit code for config and startup errors."""


class SekimoriMail:
    """Runs the mail relay for as long as mitmproxy runs (only if ``smtp.listen`` is set)."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.relay: MailRelay | None = None
        self.startup_error: str | None = None

    async def running(self) -> None:
        settings = self.runtime.policy.smtp
        if not settings.listen:
            return  # the mail path is off
        relay = MailRelay(self.runtime, settings)
        try:
            await relay.start()
        except Exception as e:  # a bug must not leave the proxy up without its mail path either
            self.startup_error = str(e) if isinstance(e, RelayStartError) else \
                f"mail relay cannot start: {type(e).__name__}: {e}"
            log.error("%s", self.startup_error)
            sys.exit(STARTUP_ERROR_EXIT)
        self.relay = relay

    async def done(self) -> None:
        if self.relay is not None:
            relay, self.relay = self.relay, None
            await relay.stop()
