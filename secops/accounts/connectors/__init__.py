"""Connectors that read MFA and admin facts from Microsoft Graph and Google Workspace."""
