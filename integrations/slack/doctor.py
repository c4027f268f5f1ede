"""`nightshift doctor`'s Slack check: the bot token works (auth.test) and has every scope the manifest asks for."""

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from control_plane.config import Settings
from control_plane.doctor import Finding
from integrations.slack.manifest import BOT_SCOPES

_REINSTALL = "add them under OAuth & Permissions (or paste `nightshift slack manifest`), then reinstall the app"


async def check_slack(settings: Settings) -> Finding:
    if settings.slack_bot_token is None:
        if settings.slack_signing_secret or settings.slack_app_token:
            return Finding(
                part="slack",
                status="fail",
                message="SLACK_BOT_TOKEN is not set",
                fix="OAuth & Permissions > Bot User OAuth Token (xoxb-...)",
            )
        return Finding(part="slack", status="skip", message="not configured (`nightshift slack manifest` to start)")
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url, timeout=15
    )
    try:
        response = await client.auth_test()
    except aiohttp.ClientError as e:
        return Finding(
            part="slack",
            status="fail",
            message=f"cannot reach Slack at {settings.slack_api_url}: {type(e).__name__}",
            fix="check the network path to slack.com (a proxy: HTTPS_PROXY)",
        )
    except SlackApiError as e:
        return Finding(
            part="slack",
            status="fail",
            message=f"Slack refused SLACK_BOT_TOKEN: {e.response['error']}",
            fix="copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions",
        )
    headers = {name.lower(): value for name, value in response.headers.items()}
    granted = {s.strip() for s in headers.get("x-oauth-scopes", "").split(",") if s.strip()}
    missing = [s for s in BOT_SCOPES if s not in granted]
    who = f"bot {response['user']} in {response['team']}"
    if missing:
        return Finding(part="slack", status="fail", message=f"{who} lacks scopes: {', '.join(missing)}", fix=_REINSTALL)
    if settings.slack_signing_secret is None:
        return Finding(
            part="slack",
            status="fail",
            message=f"{who}; SLACK_SIGNING_SECRET is not set",
            fix="Basic Information > App Credentials > Signing Secret",
        )
    if settings.slack_app_token and not settings.slack_app_token.get_secret_value().startswith("xapp-"):
        return Finding(
            part="slack",
            status="fail",
            message=f"{who}; SLACK_APP_TOKEN is not an app-level token",
            fix="Basic Information > App-Level Tokens, with the connections:write scope (xapp-...)",
        )
    mode = "Socket Mode" if settings.slack_app_token else f"events at {settings.public_url.rstrip('/')}/slack/events"
    return Finding(part="slack", status="ok", message=f"{who}, every scope granted; {mode}")
