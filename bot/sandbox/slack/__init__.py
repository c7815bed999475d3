"""Slack for the sandbox: a Web API emulator (``SlackEmulator``) and a driver (``SlackDriver``) that plays
the users and sends the bot signed slash commands, clicks, view submissions and events."""

from bot.sandbox.slack.driver import SlackDriver
from bot.sandbox.slack.emulator import SlackEmulator

__all__ = ["SlackDriver", "SlackEmulator"]
