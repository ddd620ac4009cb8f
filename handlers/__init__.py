"""Channel-neutral conversation logic. Never imports a messaging SDK."""
