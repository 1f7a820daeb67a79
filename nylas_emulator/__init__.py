"""Local emulator of the Nylas v3 HTTP API for development, demos and tests."""
