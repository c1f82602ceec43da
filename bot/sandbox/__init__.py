"""The offline Slack: Web API emulator, signed-request client and local stubs for tests."""
