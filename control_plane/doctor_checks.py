"""The doctor's checks of the control plane's own parts: Redis, the model API, the sandbox, Sentry, Modal.

The integrations bring their own checks (integrations/github/doctor.py, integrations/slack/doctor.py).
"""

import asyncio
import shutil
import uuid
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from control_plane.config import Settings
from control_plane.doctor import Finding
from control_plane.embedded_redis import EmbeddedRedis
from control_plane.redis_auth import FIX, lets_anyone_in
from control_plane.sandbox_runtime import sandbox_provider
from harness.errors import ConfigError, ModelAPIError, NightshiftError, SandboxError
from harness.providers import ModelChoice
from harness.sandboxes import ExecResult, SandboxProvider, SandboxSpec

_REDIS_TIMEOUT_S = 5.0
_AOF_FIX = "turn on the append-only file (`appendonly yes`; on a managed service: its persistence/AOF option)"


def durability(appendonly: str | None, save: str | None, eviction: str) -> Finding:
    """Persistence, and no eviction: an evicted key is a lost session or job as surely as a restart without an AOF."""
    finding = persistence(appendonly, save)
    if eviction == "noeviction" or finding.status == "fail":
        return finding
    fix = "; ".join(f for f in (finding.fix, "set maxmemory-policy noeviction") if f)
    message = f"{finding.message}; maxmemory-policy {eviction} drops keys (sessions, jobs) when memory runs out"
    return Finding(part="redis", status="warn", message=message, fix=fix)


def persistence(appendonly: str | None, save: str | None) -> Finding:
    """Sessions, queues and leases live only in Redis: without persistence a restart loses every session.
    None means the server refused CONFIG (managed services often do) and only INFO told us about the AOF."""
    if appendonly == "yes":
        return Finding(part="redis", status="ok", message="reachable; append-only file on")
    if save:
        return Finding(
            part="redis",
            status="warn",
            message=f"reachable; only RDB snapshots (save {save!r}): a crash loses the writes since the last one",
            fix=_AOF_FIX,
        )
    if appendonly is None:
        return Finding(
            part="redis",
            status="warn",
            message="reachable; CONFIG is refused and INFO shows the append-only file off",
            fix="check that the service persists data (AOF or snapshots), or sessions are lost on a restart",
        )
    return Finding(
        part="redis", status="fail", message="reachable but not persistent: a restart loses every session", fix=_AOF_FIX
    )


async def check_redis(settings: Settings) -> Finding:
    if settings.redis_url is None:
        if shutil.which("redis-server") is None:
            return Finding(
                part="redis",
                status="fail",
                message="no REDIS_URL and no redis-server to embed",
                fix="install redis-server (./install.sh), or set REDIS_URL to a Redis or Valkey you run",
            )
        return Finding(
            part="redis", status="ok", message=f"embedded redis-server under {settings.data_dir} (append-only file on)"
        )
    client = Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=_REDIS_TIMEOUT_S,
        socket_connect_timeout=_REDIS_TIMEOUT_S,
    )
    try:
        return await _redis_durability(client)
    except (RedisError, OSError) as e:
        return Finding(
            part="redis",
            status="fail",
            message=f"cannot reach Redis at {_redacted(settings.redis_url)}: {e}",
            fix="check REDIS_URL (redis://[:password@]host:port/db, rediss:// for TLS) and the network path",
        )
    finally:
        await client.aclose()


async def check_redis_auth(settings: Settings) -> Finding:
    """A TCP Redis must want a password: serve and worker refuse one that does not (control_plane/redis_auth.py)."""
    if settings.redis_url is None:
        return Finding(part="redis-auth", status="ok", message="embedded: a unix socket inside the data dir")
    try:
        open_ = await lets_anyone_in(settings.redis_url)
    except (RedisError, OSError) as e:
        return Finding(part="redis-auth", status="skip", message=f"not checked, Redis not reached: {e}")
    if not open_:
        return Finding(part="redis-auth", status="ok", message="a client without a password is refused")
    if settings.insecure_redis:
        message = "answers clients without a password; declared private (--insecure-redis)"
        return Finding(part="redis-auth", status="warn", message=message, fix=FIX)
    message = "answers clients without a password: anyone who reaches it can rewrite sessions (serve refuses it)"
    return Finding(part="redis-auth", status="fail", message=message, fix=FIX)


def _redacted(url: str) -> str:
    """The URL without its password: doctor's output ends up in terminals, tickets and CI logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


async def _redis_durability(client: Redis) -> Finding:
    await client.ping()
    eviction = str((await client.info("memory")).get("maxmemory_policy", "noeviction"))
    try:
        appendonly = (await client.config_get("appendonly")).get("appendonly")
        save = (await client.config_get("save")).get("save")
    except ResponseError:  # a managed service that disallows CONFIG: INFO still tells whether the AOF is on
        info = await client.info("persistence")
        return durability("yes" if info.get("aof_enabled") == 1 else None, None, eviction)
    return durability(appendonly, save, eviction)


async def check_model(settings: Settings) -> Finding:
    """A cheap call: look the configured model up with the configured key and base URL."""
    from harness.anthropic_model import AnthropicModel  # the SDK loads only for this check

    try:
        choice = ModelChoice.parse(settings.model)
    except ConfigError as e:
        return Finding(part="model", status="fail", message=str(e))
    if choice.provider != "anthropic":
        return Finding(part="model", status="warn", message=f"{choice} is not checked: doctor checks Anthropic keys")
    if settings.anthropic_api_key is None:
        return Finding(
            part="model",
            status="fail",
            message="ANTHROPIC_API_KEY is not set",
            fix="export ANTHROPIC_API_KEY=sk-ant-... (a key from console.anthropic.com)",
        )
    model = AnthropicModel(settings.anthropic().model_copy(update={"model": choice.model, "request_timeout_s": 15.0}))
    try:
        await model.check_access()
    except ConfigError:
        return Finding(
            part="model",
            status="fail",
            message="the model API refused ANTHROPIC_API_KEY (401)",
            fix="set ANTHROPIC_API_KEY to a valid key (console.anthropic.com > API keys)",
        )
    except ModelAPIError as e:
        return _model_api_finding(settings, choice.model, e)
    finally:
        await model.close()
    return Finding(part="model", status="ok", message=f"API key accepted; {choice.model} available")


def _model_api_finding(settings: Settings, model: str, e: ModelAPIError) -> Finding:
    if e.status_code == 404:
        return Finding(
            part="model",
            status="fail",
            message=f"model {model!r} is not available to this key",
            fix="set NIGHTSHIFT_MODEL to a model the key can use, e.g. claude-sonnet-4-6",
        )
    if e.status_code is None:
        where = settings.anthropic_base_url or "https://api.anthropic.com"
        return Finding(
            part="model",
            status="fail",
            message=f"cannot reach the model API at {where}: {e}",
            fix="check ANTHROPIC_BASE_URL and the network path (a proxy: HTTPS_PROXY)",
        )
    return Finding(part="model", status="fail", message=str(e))


async def check_sandbox(settings: Settings) -> Finding:
    """Start a sandbox of the configured provider, run `true` in it, and throw it away. (The modal provider keeps
    sandbox ids in Redis; the client connects only when the provider first uses it.)"""
    redis = Redis.from_url(settings.redis_url or EmbeddedRedis(settings.data_dir).url, decode_responses=True)
    try:
        result = await _run_true(sandbox_provider(settings, redis))
    except (NightshiftError, RedisError, OSError) as e:
        return Finding(part="sandbox", status="fail", message=f"the {settings.sandbox} provider could not start: {e}")
    finally:
        await redis.aclose()
    if result.exit_code != 0:
        return Finding(
            part="sandbox",
            status="fail",
            message=f"`true` exited {result.exit_code} in a {settings.sandbox} sandbox: {result.output[:200]}",
        )
    return Finding(part="sandbox", status="ok", message=f"a {settings.sandbox} sandbox started and ran `true`")


async def _run_true(provider: SandboxProvider) -> ExecResult:
    sandbox = await provider.create(SandboxSpec(session_id=f"doctor-{uuid.uuid4().hex[:12]}"))
    try:
        return await sandbox.exec("true", timeout_s=60)
    finally:
        await sandbox.terminate()


_BWRAP_PROBE = ["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]


async def check_bubblewrap(settings: Settings, bwrap: str | None) -> Finding:
    """The local provider isolates commands with bubblewrap; it needs unprivileged user namespaces."""
    if settings.sandbox != "local":
        return Finding(part="bubblewrap", status="skip", message=f"not needed: sandboxes run on {settings.sandbox}")
    if bwrap is None:
        return Finding(
            part="bubblewrap",
            status="fail",
            message="bwrap not found: local sandboxes would run commands as this user, unisolated (host files and "
            "network, its loopback included)",
            fix="apt-get install bubblewrap (or NIGHTSHIFT_SANDBOX=modal)",
        )
    proc = await asyncio.create_subprocess_exec(
        bwrap, *_BWRAP_PROBE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await proc.communicate()
    if proc.returncode != 0:
        return Finding(
            part="bubblewrap",
            status="fail",
            message=f"bwrap cannot create namespaces: {output.decode(errors='replace').strip()}",
            fix="allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; Ubuntu 24.04: "
            "kernel.apparmor_restrict_unprivileged_userns=0), or NIGHTSHIFT_SANDBOX=modal",
        )
    return Finding(part="bubblewrap", status="ok", message=f"{bwrap} creates namespaces")


async def check_sentry(settings: Settings) -> Finding:
    if settings.sentry_client_secret is None:
        if settings.sentry_project_repos:
            return Finding(
                part="sentry",
                status="fail",
                message="sentry_project_repos is set but no client secret",
                fix="export SENTRY_CLIENT_SECRET (the internal integration's client secret)",
            )
        return Finding(part="sentry", status="skip", message="not configured (SENTRY_CLIENT_SECRET)")
    if not settings.sentry_project_repos:
        return Finding(
            part="sentry",
            status="warn",
            message="client secret set, but no project is mapped to a repo",
            fix='add [sentry_project_repos] to the config file (project slug = "owner/name")',
        )
    return Finding(
        part="sentry",
        status="ok",
        message=f"client secret set; {len(settings.sentry_project_repos)} project(s) mapped to a repo",
    )


async def check_modal(settings: Settings) -> Finding:
    """Credentials present, then one cheap authenticated call."""
    if settings.sandbox != "modal":
        return Finding(part="modal", status="skip", message="not used (NIGHTSHIFT_SANDBOX is local)")
    from harness.sandboxes.modal import check_access  # loads the modal package only where it is used

    try:
        await check_access(settings.modal)
    except ConfigError as e:
        return Finding(part="modal", status="fail", message=str(e))
    except SandboxError as e:
        fix = "check MODAL_TOKEN_ID and MODAL_TOKEN_SECRET (`modal token new` makes a new pair)"
        return Finding(part="modal", status="fail", message=str(e), fix=fix)
    return Finding(part="modal", status="ok", message=f"token accepted; app {settings.modal.app_name!r} ready")
