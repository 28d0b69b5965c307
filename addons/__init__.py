"""mitmproxy addons that turn flows into Sekimori Transfers and apply Decisions."""
