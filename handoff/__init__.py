"""Outbound CRM delivery (signed webhooks)."""
