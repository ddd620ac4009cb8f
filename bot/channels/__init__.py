"""Channel adapters (Telegram, Zalo): the only code that talks to messaging APIs."""
