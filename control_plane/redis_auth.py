"""Does the control plane's Redis let in a client that sends no password? Everything Nightshift knows lives there
(prompts, sessions, the branch each one pushes to): anyone who can open a connection to an open TCP Redis can read
and rewrite all of it. `serve` and `worker` refuse such a Redis and `doctor` reports it, unless the operator
declares it private (--insecure-redis, NIGHTSHIFT_INSECURE_REDIS). The embedded default listens on a unix socket in
the data dir (mode 0700), which no sandbox sees."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ResponseError

from control_plane.config import Settings
from harness.errors import ConfigError

_TIMEOUT_S = 5.0
FIX = (
    "require a password: an ACL user (`ACL SETUSER nightshift on >PASSWORD ~* &* +@all` and `ACL SETUSER default "
    "off`) or `requirepass PASSWORD`, put it in REDIS_URL (redis://nightshift:PASSWORD@host:6379/0), and use "
    "rediss:// (TLS) when the connection leaves the machine; see docs/deploy.md. If only this control plane can "
    "reach that Redis, say so with --insecure-redis or NIGHTSHIFT_INSECURE_REDIS=true"
)


def anonymous(url: str) -> str:
    """The same server and database, without any username or password (in the netloc or the query)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in ("username", "password")])
    return urlunsplit(parts._replace(netloc=host, query=query))


async def lets_anyone_in(url: str) -> bool:
    """True when a TCP Redis at `url` answers PING to a client with no credentials; False for a unix socket.
    Raises redis' ConnectionError when the server cannot be reached at all."""
    if urlsplit(url).scheme == "unix":
        return False
    probe = Redis.from_url(
        anonymous(url), socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S, retry=Retry(NoBackoff(), 0)
    )
    try:
        await probe.ping()
    except AuthenticationError:  # NOAUTH: a password is required
        return False
    except ResponseError as e:  # an ACL default user that may not even PING is closed too
        if "NOPERM" in str(e):
            return False
        raise
    finally:
        await probe.aclose()
    return True


async def refuse_open_redis(settings: Settings) -> None:
    """For `serve` and `worker`: a ConfigError with the fix when the configured TCP Redis lets anyone in."""
    if settings.redis_url is None or settings.insecure_redis:
        return
    if await lets_anyone_in(settings.redis_url):
        where = urlsplit(settings.redis_url).netloc.rpartition("@")[2]
        raise ConfigError(
            f"the Redis at {where} answers clients that send no password: anyone who can connect to it can read "
            f"every session and change where its work is pushed. Fix: {FIX}"
        )
