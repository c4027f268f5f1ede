"""The Slack app manifest to paste at api.slack.com/apps ("Create New App" > "From a manifest").

Scopes are the least the bot needs: read mentions, read the threads it is in (channels, private channels, DMs)
to take follow-ups and hand a thread's history to the agent, and write its replies.
"""

from typing import Any

EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
}
"""The events the bot subscribes to, and the scope each needs."""
METHOD_SCOPES = {
    "auth_test": [],
    "chat_postMessage": ["chat:write"],
    "chat_update": ["chat:write"],
    "conversations_replies": ["channels:history", "groups:history", "im:history", "mpim:history"],
}
"""The Web API methods the integration calls (tests check the code calls no other), and the scopes they need."""
BOT_EVENTS = list(EVENT_SCOPES)
BOT_SCOPES = list(dict.fromkeys([*EVENT_SCOPES.values(), *(s for scopes in METHOD_SCOPES.values() for s in scopes)]))
"""The one list of scopes: the manifest asks for these and `nightshift doctor` checks the token has them."""


def manifest(public_url: str, *, socket_mode: bool = False) -> dict[str, Any]:
    """With socket_mode, Slack needs no request URLs (events come over the app token's websocket)."""
    events_url = f"{public_url.rstrip('/')}/slack/events"
    subscriptions: dict[str, Any] = {"bot_events": BOT_EVENTS}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if not socket_mode:
        subscriptions["request_url"] = events_url
        interactivity["request_url"] = events_url
    return {
        "display_information": {
            "name": "Nightshift",
            "description": "Hand coding tasks to a background agent; follow the session in the thread.",
        },
        "features": {
            "bot_user": {"display_name": "nightshift", "always_online": True},
            "app_home": {"messages_tab_enabled": True, "messages_tab_read_only_enabled": False},
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": {
            "event_subscriptions": subscriptions,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }
