"""Every Redis key Nightshift reads or writes, in one place."""

PREFIX = "ns:"
QUEUE = PREFIX + "queue"
"""Stream of jobs ({session: id}); workers read it through the consumer group below."""
QUEUE_GROUP = "workers"
SESSIONS = PREFIX + "sessions"
"""Sorted set of session ids by creation time, newest last."""
FACETS = ("repo", "source", "requested_by")
"""Session fields that never change after creation; each value gets its own index, for filtered lists."""


def session(session_id: str) -> str:
    """Hash: the session record, one JSON value per field."""
    return f"{PREFIX}session:{session_id}"


def events(session_id: str) -> str:
    """Stream: the session's append-only event log."""
    return f"{PREFIX}events:{session_id}"


def inbox(session_id: str) -> str:
    """Stream: people's messages, with the same ids as in the event log, so the loop reads only these."""
    return f"{PREFIX}inbox:{session_id}"


def lease(session_id: str) -> str:
    """String: the worker running the session; expires unless that worker keeps renewing it."""
    return f"{PREFIX}lease:{session_id}"


def by_facet(facet: str, value: str) -> str:
    """Sorted set: ids of the sessions with this repo / source / requester, by creation time (like SESSIONS)."""
    return f"{PREFIX}sessions:{facet}:{value}"


def facet_values(facet: str) -> str:
    """Hash: every value a facet has had -> how many sessions have it (filter menus, repos seen)."""
    return f"{PREFIX}facet:{facet}"


def session_facts(session_id: str) -> str:
    """String: the web dashboard's digest of a session's log, JSON with the log id it is complete up to."""
    return f"{PREFIX}facts:{session_id}"


def origin(origin: str) -> str:
    """String: the id of the session that owns an origin (an issue, a PR, a thread); set once, with the session."""
    return f"{PREFIX}origin:{origin}"


def message_cause(session_id: str, cause: str) -> str:
    """String with TTL: set in the same script that appends the message a cause put into a session (a GitHub
    comment, a Slack event, a Sentry event), so a retried delivery of that cause appends nothing more."""
    return f"{PREFIX}cause:{session_id}:{cause}"


CAUSE_TTL_S = 7 * 24 * 3600
"""Longer than any integration retries or lets people redeliver (GitHub: 3 days)."""


PULL_REQUESTS = PREFIX + "prs"
"""Sorted set of pull request keys ("owner/name#12") Nightshift opened, by opening time."""
PR_EVENTS = PREFIX + "pr-events"
"""Stream: what happened to Nightshift's pull requests (opened, merged, closed, reopened, reviewed, commented)."""


def pull_request(key: str) -> str:
    """Hash: one pull request Nightshift opened, one JSON value per field."""
    return f"{PREFIX}pr:{key}"


def pr_comments(key: str) -> str:
    """Set: ids of the comments people left on a Nightshift pull request (a redelivered one counts once)."""
    return f"{PREFIX}pr:{key}:comments"


def pr_reviews(key: str) -> str:
    """Set: ids of the reviews people submitted on a Nightshift pull request."""
    return f"{PREFIX}pr:{key}:reviews"


GITHUB_DELIVERIES = PREFIX + "github:deliveries"
"""Stream of accepted GitHub webhook deliveries, parsed; handled through the consumer group below."""
GITHUB_GROUP = "github"
GITHUB_ATTEMPTS = PREFIX + "github:attempts"
"""Hash: delivery stream entry id -> times its handling was tried (a delivery that keeps failing is dropped)."""
GITHUB_SEEN_TTL_S = 4 * 24 * 3600
"""GitHub lets people redeliver a webhook for 3 days: remember what was seen a little longer."""


def github_seen(what: str) -> str:
    """String with TTL: a delivery id or a comment id already accepted (de-duplication of deliveries and replays)."""
    return f"{PREFIX}github:seen:{what}"


GITHUB_INSTALLATIONS_EPOCH = PREFIX + "github:installations-epoch"
"""Counter: bumped by each `installation`/`installation_repositories` event; every process that caches installation
ids and tokens drops them when it sees a new value (the event is handled by one process only)."""


def github_thread(origin: str) -> str:
    """String: JSON of the GitHub issue or PR a session's origin stands for (repo, number, installation)."""
    return f"{PREFIX}github:thread:{origin}"


def github_replies(origin: str) -> str:
    """List: JSON of the comment threads waiting for Nightshift's answer when the session's run ends."""
    return f"{PREFIX}github:replies:{origin}"


def github_review_lock(repo: str, number: int, head_sha: str) -> str:
    """String with TTL (SET NX PX): the process reviewing this PR head, so two deliveries never both post a review."""
    return f"{PREFIX}github:review:{repo}#{number}@{head_sha}"


def notes(repo: str) -> str:
    """Hash: a repository's notes for agents (repo memory), note id -> RepoNote JSON."""
    return f"{PREFIX}notes:{repo}"


def children(session_id: str) -> str:
    """Sorted set: the sub-sessions a session started, by creation time."""
    return f"{PREFIX}children:{session_id}"


def woken(session_id: str, run: int) -> str:
    """String with TTL: set when a session waiting in run `run` was woken by its children's end (once per wait)."""
    return f"{PREFIX}woken:{session_id}:{run}"


WOKEN_TTL_S = 7 * 24 * 3600


SLACK_EVENTS = PREFIX + "slack:events"
"""Stream of accepted Slack events and button clicks, parsed; handled through the consumer group below."""
SLACK_GROUP = "slack"
SLACK_SEEN_TTL_S = 3600
"""Slack retries a delivery three times within minutes: an event id is remembered for an hour."""
SLACK_ACTIVE = PREFIX + "slack:active"
"""Set: ids of the Slack sessions whose status message is kept current (removed once the run has ended)."""
SLACK_STATUS_LEASE = PREFIX + "slack:status-lease"
"""String with TTL: the process editing status messages this round (one at a time, any number of processes)."""


def slack_seen(event_id: str) -> str:
    """String with TTL: a Slack event id or button click already accepted (de-duplication of retries)."""
    return f"{PREFIX}slack:seen:{event_id}"


def slack_thread(session_id: str) -> str:
    """String: JSON of the Slack thread a session answers in (channel, thread ts, status message ts)."""
    return f"{PREFIX}slack:thread:{session_id}"


def slack_pending(origin: str) -> str:
    """String with TTL: JSON of a Slack request waiting for someone to pick its repository."""
    return f"{PREFIX}slack:pending:{origin}"


SNAPSHOTS = PREFIX + "snapshots"
"""Hash: snapshot id -> SnapshotRecord JSON (repo setup snapshots for warm starts)."""
SANDBOX_IDS = PREFIX + "sandbox-ids"
"""Hash: session id -> the provider's sandbox id (Modal), so a restarted control plane reconnects."""


def snapshot_build_lock(repo_hash: str, setup_hash: str) -> str:
    """String with a TTL: the worker building this repo's setup snapshot; others wait for it instead of building."""
    return f"{PREFIX}snapshot-build:{repo_hash}:{setup_hash}"


SNAPSHOT_REFRESH_REQUESTS = PREFIX + "snapshot-refresh:requests"
"""Set: repositories whose warm-start snapshot should be refreshed now (a push to the default branch)."""
SNAPSHOT_REFRESH_LEASE = PREFIX + "snapshot-refresh:lease"
"""String: the process doing this interval's refresh round; expires after the interval."""


SENTRY_ALERTS = PREFIX + "sentry:alerts"
"""Stream: accepted Sentry alerts, waiting for the consumer (and for room under the per-project limit)."""
SENTRY_GROUP = "sentry"
SENTRY_ATTEMPTS = PREFIX + "sentry:attempts"
SENTRY_SEEN_TTL_S = 4 * 24 * 3600


def sentry_seen(what: str) -> str:
    """String, expiring: a Sentry Request-ID (or "event:<id>", a Sentry event) already accepted."""
    return f"{PREFIX}sentry:seen:{what}"


def slack_report_channel(session_id: str) -> str:
    """String: the Slack channel where a session started by an alert or a webhook posts its report as a new thread
    (set with the session by the integration that started it)."""
    return f"{PREFIX}slack:report:{session_id}"


def slack_report_thread(session_id: str) -> str:
    """String: ts of the thread a session's channel report started; later runs answer in it."""
    return f"{PREFIX}slack:report-thread:{session_id}"


def github_report_issue(session_id: str) -> str:
    """String "owner/name#number": the GitHub issue a webhook-started session's report is posted to."""
    return f"{PREFIX}github:report:{session_id}"


def automation(automation_id: str) -> str:
    """Hash: a triage automation's state (paused, why, consecutive failures, skipped deliveries)."""
    return f"{PREFIX}automation:{automation_id}"


def automation_of(session_id: str) -> str:
    """String: the automation ("sentry:<project>", "webhook:<name>") that started the session."""
    return f"{PREFIX}automation-of:{session_id}"


def automation_active(automation_id: str) -> str:
    """Set: ids of an automation's sessions that may still be running (pruned when read)."""
    return f"{PREFIX}automation:{automation_id}:active"


def automation_starting(automation_id: str) -> str:
    """Lock: held while one process counts an automation's running sessions and starts one, so two processes
    cannot both see room for the last slot."""
    return f"{PREFIX}automation:{automation_id}:starting"


def repeat_gate(session_id: str) -> str:
    """String, expiring: set when a repeat of the session's alert was last passed to the agent; repeats while it
    lives are only counted, so a storm of one issue becomes one note, not hundreds."""
    return f"{PREFIX}repeat:gate:{session_id}"


def repeats_held(session_id: str) -> str:
    """Counter: repeats of the session's alert not yet passed to the agent (told with the next note)."""
    return f"{PREFIX}repeat:held:{session_id}"


WEBHOOK_DELIVERIES = PREFIX + "webhook:deliveries"
"""Stream: accepted generic webhook deliveries, waiting for the consumer."""
WEBHOOK_GROUP = "webhook"
WEBHOOK_ATTEMPTS = PREFIX + "webhook:attempts"
WEBHOOK_SEEN_TTL_S = 4 * 24 * 3600


def webhook_seen(hook: str, delivery: str) -> str:
    """String, expiring: a generic hook's delivery (its id, else its body's hash) already accepted."""
    return f"{PREFIX}webhook:seen:{hook}:{delivery}"


def daily_spend(day: str, scope: str, name: str) -> str:
    """String (float): dollars the model calls of one repo or one person's sessions cost on a UTC day."""
    return f"{PREFIX}spend:{day}:{scope}:{name}"


DAILY_SPEND_TTL_S = 3 * 24 * 3600
"""A day's spend is kept a little past the day, for people looking at yesterday's figures."""
METRICS = PREFIX + "metrics"
"""Hash: Prometheus series (name + labels as JSON) -> value, summed over every process (control_plane.metrics)."""


def auth_failures(client: str) -> str:
    """String (count), expiring at the end of its window: wrong API tokens and sign-ins from one client address."""
    return f"{PREFIX}auth-failures:{client}"
