"""Slack for the sandbox: a Web API emulator (``SlackEmulator``, with Socket Mode's WebSocket) and the drivers that
play the users: ``SlackDriver`` sends the bot signed slash commands, clicks, view submissions and events over HTTP,
``SocketModeDriver`` the same in Socket Mode envelopes."""

from bot.sandbox.slack.driver import SlackDriver
from bot.sandbox.slack.emulator import SlackEmulator
from bot.sandbox.slack.socket_driver import SocketModeDriver

__all__ = ["SlackDriver", "SlackEmulator", "SocketModeDriver"]
