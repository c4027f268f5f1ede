"""Slack: `@nightshift <task>` starts a session, the thread follows it. See README.md for the modules."""

from integrations.slack.app import SlackIntegration
from integrations.slack.config import SlackConfig

__all__ = ["SlackConfig", "SlackIntegration"]
