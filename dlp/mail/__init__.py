"""The mail path: an SMTP relay in front of the upstream MTA that inspects every message.

mitmproxy has no SMTP layer and cannot intercept STARTTLS, so ``addons/mail.py`` starts
this relay (aiosmtpd) on mitmproxy's own event loop. Modules, one job each:

- ``server``: the listeners (``MailRelay``); ``handler``: aiosmtpd hooks of one listener;
- ``transaction``: one message → Transfer → verdict → reply;
- ``upstream``: the client towards the next-hop MTA; ``deliver``: release of a held message;
- ``replies``, ``trace`` (the Received: line), ``auth`` (htpasswd), ``addresses``, ``limits``.
"""

from dlp.mail.deliver import deliver, deliver_sync
from dlp.mail.upstream import DeliveryError

__all__ = ["DeliveryError", "deliver", "deliver_sync"]
