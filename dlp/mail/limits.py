"""Timeouts and limits of the mail relay, in one place.

They are not policy keys (yet): ``config/dlp.schema.json`` has no room for them, and the
values below are the ones RFC 5321 section 4.5.3 recommends or that Postfix ships with.
"""

SESSION_TIMEOUT = 300.0
"""Seconds a submitting client may stay silent between commands (RFC 5321: 5 minutes)."""

MAX_RECIPIENTS = 1000
"""Recipients per transaction (Postfix's smtpd_recipient_limit); more get 452 4.5.3."""

MAX_HOPS = 50
"""Received: headers a message may already carry (Postfix's hopcount_limit); more means a
mail loop, answered 554 5.4.6 before anything else is done."""

UPSTREAM_CONNECT_TIMEOUT = 30.0
"""Seconds to open the connection to the upstream MTA and read its greeting."""

UPSTREAM_COMMAND_TIMEOUT = 300.0
"""Seconds to wait for the upstream's reply to one command (RFC 5321: MAIL, RCPT 5 minutes)."""

UPSTREAM_DATA_TIMEOUT = 600.0
"""Seconds to wait for the upstream's final reply to DATA (RFC 5321: 10 minutes)."""

SHUTDOWN_GRACE = 10.0
"""Seconds ``dlp run`` waits on shutdown for transactions already past DATA to finish, so a
message that was relayed upstream also gets its reply (a cut connection makes the client
send it again)."""

REPLY_TEXT_MAX = 400
"""Characters of an upstream reply text passed on to the client."""
