//! Configuration: the TOML contract, read in two steps.
//!
//! First the file is deserialised as written ([`RawConfig`], every table `deny_unknown_fields`
//! so a typo is an error, not a silently ignored key), then validated into [`Config`], which
//! holds what the program needs: parsed URLs, cron rules, durations and byte sizes, and
//! absolute paths. Every error names the file, the key and the problem.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use strum::VariantNames;
use thiserror::Error;
use url::Url;

use crate::dedupe::Thresholds;
use crate::emit::Channel;
use crate::model::Role;
use crate::notify::SinkUrl;
use crate::schedule::CronRule;
use crate::store::StorageTarget;

/// The configuration used when none is given: Interconnects, its podcast, and friends.
pub const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

/// How the embedded default is named in messages.
pub const DEFAULT_CONFIG_NAME: &str = "<built-in default config>";

#[derive(Debug, Error)]
pub enum ConfigError {
    /// The OS error is part of the message rather than a `#[source]`: the daemon logs this
    /// error's message alone on a refused reload, and the command line prints the chain, so
    /// holding it in both places would print it twice.
    #[error("cannot read config file {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: `{key}`: {problem}")]
    Invalid {
        path: String,
        key: String,
        problem: String,
    },
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    schedule: RawSchedule,
    #[serde(default)]
    fetch: RawFetch,
    #[serde(default)]
    dedupe: RawDedupe,
    #[serde(default)]
    websub: RawWebSub,
    #[serde(default)]
    transcripts: RawTranscripts,
    #[serde(default)]
    feeds: Vec<RawFeed>,
    #[serde(default)]
    feed_list: RawFeedList,
    #[serde(default)]
    notify: Vec<RawNotify>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    database: Option<String>,
    lease: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    atom_path: Option<String>,
    title: Option<String>,
    max_entries: Option<i64>,
    author: Option<String>,
    image: Option<String>,
    category: Option<String>,
    explicit: Option<bool>,
    language: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    base_url: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    default: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    timeout: Option<String>,
    max_body: Option<String>,
    allow_private_networks: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDedupe {
    title_window: Option<String>,
    mirror_window: Option<String>,
    content_window: Option<String>,
    content_threshold: Option<f64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWebSub {
    hub: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTranscripts {
    enabled: Option<bool>,
    per_feed: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    name: String,
    url: String,
    role: Option<String>,
    schedule: Option<String>,
}

/// `[feed_list]`: feeds listed in a file of their own. Thousands of feeds as `[[feeds]]`
/// tables cost the TOML parser a tree of the whole document (about 2.5 KB per feed at its
/// peak); an OPML file is read event by event, into the feed list alone.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFeedList {
    /// An OPML file (`tributary export --format opml` writes one): each outline's title is a
    /// feed's name and `tributary:role` its role; these feeds poll on `schedule.default`.
    opml: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    name: String,
    kind: String,
    /// Secrets from the moment they are read, so even the raw config's `Debug` hides them
    /// (a Slack or Discord hook URL is a credential too).
    url: SecretString,
    secret: Option<SecretString>,
    token: Option<SecretString>,
    room: Option<String>,
    template: Option<String>,
    #[serde(default)]
    feeds: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
    pattern: Option<String>,
    hold: Option<String>,
    #[serde(default)]
    digest: bool,
    #[serde(default)]
    notify_backfill: bool,
    max_age: Option<String>,
    channel: Option<String>,
    followups: Option<bool>,
    events: Option<Vec<String>>,
}

/// What a feed's lease lasts beyond the fetch timeout unless `[storage] lease` says otherwise:
/// a claimed feed waits for a fetch slot, its host's slot, its transcripts and a write, and a
/// lease that ended early costs a second fetch by another instance. Feeds are claimed a few at
/// a time as slots free up (`poll::DueFeeds`), so what a claimed feed waits for is bounded by a
/// few fetch timeouts; ten minutes covers that.
const DEFAULT_LEASE_MARGIN: Duration = Duration::from_secs(600);

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the configuration came from, for messages.
    pub origin: String,
    /// `[storage] database`: a SQLite file, or a `postgres://` URL.
    pub database: StorageTarget,
    /// `[storage] lease`: how long a feed an instance claimed on a shared (PostgreSQL) store
    /// stays its own, which is how long a dead instance's feeds wait for another.
    pub lease: Duration,
    pub output: OutputConfig,
    pub server: ServerConfig,
    pub default_schedule: CronRule,
    pub fetch: FetchConfig,
    pub dedupe: Thresholds,
    /// `[websub]`: the hub told about every change of the merged feeds, if any.
    pub websub: Option<WebSubConfig>,
    pub transcripts: TranscriptConfig,
    pub feeds: Vec<FeedConfig>,
    pub notify: Vec<NotifyConfig>,
}

/// `[websub]`: the merged feeds advertise `hub` and tell it when they change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSubConfig {
    pub hub: Url,
}

/// `[transcripts]`: whether an episode's transcript is fetched to match it with its post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscriptConfig {
    pub enabled: bool,
    /// Transcripts fetched per feed per poll at most: a podcast's backfill of hundreds of
    /// episodes must not hold its poll for hundreds of requests.
    pub per_feed: usize,
}

impl Default for TranscriptConfig {
    fn default() -> Self {
        TranscriptConfig {
            enabled: true,
            per_feed: 4,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub atom_path: PathBuf,
    pub title: String,
    pub max_entries: usize,
    /// What the RSS feed's channel says to podcast apps and directories.
    pub channel: Channel,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The merged feed's self link is built from this, never from a request's Host header,
    /// which a client controls.
    pub base_url: Url,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// Total deadline per request, connect to last body byte.
    pub timeout: Duration,
    /// Cap on the decoded body.
    pub max_body: u64,
    pub allow_private_networks: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            timeout: Duration::from_secs(30),
            max_body: 16 * 1024 * 1024,
            allow_private_networks: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub name: String,
    pub url: FeedUrl,
    pub role: Role,
    pub schedule: CronRule,
}

/// A feed's address: an http(s) URL, parsed and checked when the config was read, and kept
/// as its text. A parsed [`Url`] holds its text and 64 bytes of offsets into it, and a list of
/// ten thousand feeds should cost their addresses, not their parses: [`FeedUrl::url`] parses
/// it again for the one fetch that needs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeedUrl(Box<str>);

impl FeedUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address parsed. It was made from a parsed URL, whose text parses to the same URL
    /// again (the `url` crate's round-trip guarantee), so this cannot fail.
    pub fn url(&self) -> Url {
        Url::parse(&self.0).expect("a URL's own text parses again")
    }
}

impl From<Url> for FeedUrl {
    fn from(url: Url) -> Self {
        FeedUrl(String::from(url).into_boxed_str())
    }
}

impl std::fmt::Display for FeedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A sink's `kind`, spelled in the config as the lowercase variant name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::Display, strum::VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum SinkKind {
    Webhook,
    Slack,
    Discord,
    Matrix,
    Ntfy,
}

/// One notification sink (`[[notify]]`).
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub name: String,
    pub kind: SinkKind,
    /// webhook, slack, discord: the hook URL; matrix: the homeserver's base URL; ntfy: the
    /// topic URL. Slack's and Discord's hook URLs are their credentials, so it prints redacted.
    pub url: SinkUrl,
    /// webhook: the HMAC-SHA256 signing key.
    pub secret: Option<SecretString>,
    /// matrix: the access token; ntfy: an optional bearer token.
    pub token: Option<SecretString>,
    /// matrix: the room id (`!abc:example.org`).
    pub room: Option<String>,
    /// The message text, with `{title}`, `{link}`, `{feeds}`, `{summary}`, `{audio}`
    /// placeholders; `None` for the sink's default.
    pub template: Option<String>,
    /// Only stories with a member from one of these feeds (empty: every feed).
    pub feeds: Vec<String>,
    /// Only stories whose title or summary holds one of these words (case-insensitive).
    pub keywords: Vec<String>,
    /// Only stories whose title or summary matches this.
    pub pattern: Option<regex::Regex>,
    /// Wait this long after a story appears before notifying, so later mirrors fold in.
    pub hold: Duration,
    /// Send a burst of stories as one digest message instead of one message each.
    pub digest: bool,
    /// Notify about a feed's first poll too (normally that is backfill, and silent).
    pub notify_backfill: bool,
    /// A delivery still failing this long after its story appeared is given up as dead.
    pub max_age: Duration,
    /// slack with a bot `token`: the channel to post in (its id, or a name the bot is in).
    pub channel: Option<String>,
    /// Whether a story that changes after its message went out is followed up: an edit of the
    /// message (slack with a bot token, discord, matrix), a `story.updated` event (webhook
    /// with it in `events`), or a new message (ntfy with `followups = true`, since ntfy
    /// cannot edit). Incoming-webhook Slack sinks cannot edit, and send nothing more.
    pub followups: bool,
}

/// The webhook events a sink may ask for; `story.new` is always sent.
pub const WEBHOOK_EVENTS: &[&str] = &["story.new", "story.updated"];

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// The embedded default configuration.
    pub fn embedded_default() -> Result<Config, ConfigError> {
        Config::parse(DEFAULT_CONFIG, DEFAULT_CONFIG_NAME)
    }

    /// Parses and validates config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        Validator { origin }.validate(raw)
    }
}

/// Relative paths live under `$STATE_DIRECTORY` when systemd provides one, so a unit with
/// `StateDirectory=` needs no paths in its config; otherwise under the current directory.
pub fn state_dir() -> PathBuf {
    match std::env::var_os("STATE_DIRECTORY") {
        // systemd may pass several colon-separated directories; the first is ours.
        Some(dirs) if !dirs.is_empty() => {
            let first = dirs
                .to_string_lossy()
                .split(':')
                .next()
                .unwrap_or_default()
                .to_owned();
            PathBuf::from(first)
        }
        _ => PathBuf::from("."),
    }
}

struct Validator<'a> {
    origin: &'a str,
}

impl Validator<'_> {
    fn invalid(&self, key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.origin.to_owned(),
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// The RSS channel's settings, each defaulted when absent (the author to the title).
    fn channel(&self, title: &str, raw: &RawOutput) -> Result<Channel, ConfigError> {
        let mut channel = Channel::defaults(title);
        if let Some(author) = &raw.author {
            if author.trim().is_empty() {
                return Err(self.invalid("output.author", "must not be empty"));
            }
            author.trim().clone_into(&mut channel.author);
        }
        if let Some(image) = &raw.image {
            channel.image = Some(self.http_url("output.image", image)?);
        }
        if let Some(category) = &raw.category {
            channel.category = category.parse().map_err(|e: crate::emit::ChannelError| {
                self.invalid("output.category", e.to_string())
            })?;
        }
        if let Some(language) = &raw.language {
            channel.language = language.parse().map_err(|e: crate::emit::ChannelError| {
                self.invalid("output.language", e.to_string())
            })?;
        }
        channel.explicit = raw.explicit.unwrap_or(channel.explicit);
        Ok(channel)
    }

    fn validate(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let state = state_dir();
        let path = |value: Option<String>, default: &str| -> PathBuf {
            let p = PathBuf::from(value.unwrap_or_else(|| default.to_owned()));
            if p.is_absolute() { p } else { state.join(p) }
        };

        let database = StorageTarget::parse(
            raw.storage.database.as_deref().unwrap_or("tributary.db"),
            &state,
        )
        .map_err(|e| self.invalid("storage.database", e.to_string()))?;
        let max_entries = match raw.output.max_entries {
            None => 200,
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|n| (1..=100_000).contains(n))
                .ok_or_else(|| {
                    self.invalid(
                        "output.max_entries",
                        format!("must be between 1 and 100000, got {n}"),
                    )
                })?,
        };
        let title = raw
            .output
            .title
            .as_deref()
            .unwrap_or("Interconnects and friends")
            .to_owned();
        let channel = self.channel(&title, &raw.output)?;
        let output = OutputConfig {
            atom_path: path(raw.output.atom_path, "merged.atom"),
            title,
            max_entries,
            channel,
        };

        let listen_text = raw
            .server
            .listen
            .unwrap_or_else(|| "127.0.0.1:8088".to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            self.invalid(
                "server.listen",
                format!("`{listen_text}` is not an address:port such as 127.0.0.1:8088"),
            )
        })?;
        let base_url_given = raw.server.base_url.is_some();
        let mut base_url = match raw.server.base_url {
            Some(text) => self.http_url("server.base_url", &text)?,
            None => self.http_url("server.base_url", &format!("http://{listen}/"))?,
        };
        // The feed URLs are joined onto this; without a trailing slash `join` would replace
        // the last path segment instead of appending to it.
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let websub = match raw.websub.hub {
            None => None,
            Some(text) => {
                // The hub fetches the feeds at their self links; one derived from the listen
                // address (127.0.0.1 by default) names no feed the hub can reach.
                if !base_url_given {
                    return Err(self.invalid(
                        "websub.hub",
                        "a hub fetches the feeds at their public address: set [server] base_url \
                         to the address readers use (e.g. \"https://feeds.example/\")",
                    ));
                }
                Some(WebSubConfig {
                    hub: self.http_url("websub.hub", &text)?,
                })
            }
        };
        let server = ServerConfig { listen, base_url };

        let default_schedule = self.cron(
            "schedule.default",
            raw.schedule.default.as_deref().unwrap_or("*/30 * * * *"),
        )?;

        let defaults = FetchConfig::default();
        let fetch = FetchConfig {
            timeout: match raw.fetch.timeout {
                Some(text) => self.duration("fetch.timeout", &text)?,
                None => defaults.timeout,
            },
            max_body: match raw.fetch.max_body {
                Some(text) => self.size("fetch.max_body", &text)?,
                None => defaults.max_body,
            },
            allow_private_networks: raw
                .fetch
                .allow_private_networks
                .unwrap_or(defaults.allow_private_networks),
        };

        let dedupe = self.dedupe(raw.dedupe)?;
        let transcripts = self.transcripts(&raw.transcripts)?;

        let mut names = HashSet::new();
        // By canonical URL (scheme, `www.`, trailing slash and tracking parameters aside), so
        // `http://www.a.example/feed/` and `https://a.example/feed` count as one feed: polled
        // under two names, its items would be stored twice and match each other.
        let mut urls: HashMap<String, (String, Url)> = HashMap::new();
        let listed = match raw.feed_list.opml {
            Some(file) => self.opml_feeds(&path(Some(file), ""))?,
            None => Vec::new(),
        };
        let mut feeds = Vec::with_capacity(raw.feeds.len() + listed.len());
        let mut rules: HashMap<String, CronRule> = HashMap::new();
        // The OPML's feeds are keyed by their place among its outlines that name a feed.
        let tables =
            (raw.feeds.into_iter().enumerate()).map(|(i, feed)| (format!("feeds[{i}]"), feed));
        let outlines = (listed.into_iter().enumerate())
            .map(|(i, feed)| (format!("feed_list.opml[{i}]"), feed));
        for (place, feed) in tables.chain(outlines) {
            let key = |field: &str| format!("{place}.{field}");
            let name = feed.name.trim().to_owned();
            if name.is_empty() {
                return Err(self.invalid(key("name"), "must not be empty"));
            }
            if !names.insert(name.clone()) {
                return Err(self.invalid(
                    key("name"),
                    format!("`{name}` is used by another feed; names must be unique"),
                ));
            }
            let role = match feed.role.as_deref() {
                None => Role::Origin,
                Some(text) => Role::parse(text).ok_or_else(|| {
                    self.invalid(
                        key("role"),
                        format!("`{text}` is not a role; use \"origin\" or \"mirror\""),
                    )
                })?,
            };
            let schedule = match feed.schedule {
                // Feeds that share a rule share its parse (see `CronRule`).
                Some(text) => match rules.get(&text) {
                    Some(rule) => CronRule::clone(rule),
                    None => {
                        let rule = self.cron(&key("schedule"), &text)?;
                        rules.insert(text, rule.clone());
                        rule
                    }
                },
                None => default_schedule.clone(),
            };
            let url = self.http_url(&key("url"), &feed.url)?;
            let mut canonical =
                crate::dedupe::canonical_url(url.as_str()).unwrap_or_else(|| url.to_string());
            // With a port of its own, the scheme names another server: TLS and plain HTTP do
            // not share a port, so `http://h:8080/` and `https://h:8080/` are two feeds.
            if url.port().is_some() {
                canonical = format!("{}://{canonical}", url.scheme());
            }
            if let Some((other, other_url)) = urls.get(&canonical) {
                let same = if *other_url == url {
                    String::new()
                } else {
                    format!(" (as `{other_url}`)")
                };
                return Err(self.invalid(
                    key("url"),
                    format!(
                        "feeds `{other}` and `{name}` both poll `{url}`{same}; list each feed once"
                    ),
                ));
            }
            urls.insert(canonical, (name.clone(), url.clone()));
            feeds.push(FeedConfig {
                name,
                url: url.into(),
                role,
                schedule,
            });
        }

        let mut sink_names = HashSet::new();
        let mut notify = Vec::with_capacity(raw.notify.len());
        for (i, sink) in raw.notify.into_iter().enumerate() {
            let key = |field: &str| format!("notify[{i}].{field}");
            if !sink_names.insert(sink.name.clone()) {
                return Err(self.invalid(
                    key("name"),
                    format!("`{}` is used by another sink", sink.name),
                ));
            }
            let kind: SinkKind = sink.kind.parse().map_err(|_| {
                self.invalid(
                    key("kind"),
                    format!(
                        "`{}` is not a sink kind; use one of {}",
                        sink.kind,
                        SinkKind::VARIANTS.join(", ")
                    ),
                )
            })?;
            for feed in &sink.feeds {
                if !names.contains(feed) {
                    return Err(self.invalid(
                        key("feeds"),
                        format!("`{feed}` is not the name of a configured feed"),
                    ));
                }
            }
            let pattern = match &sink.pattern {
                Some(text) => Some(regex::Regex::new(text).map_err(|e| {
                    self.invalid(key("pattern"), format!("`{text}` is not a regex: {e}"))
                })?),
                None => None,
            };
            if kind == SinkKind::Matrix && (sink.room.is_none() || sink.token.is_none()) {
                return Err(self.invalid(
                    key("room"),
                    "a matrix sink needs both `room` (the room id) and `token` (an access token)",
                ));
            }
            let followups = self.followups(&key, kind, &sink)?;
            notify.push(NotifyConfig {
                url: SinkUrl::new(self.http_url(&key("url"), sink.url.expose_secret())?),
                hold: match &sink.hold {
                    Some(text) => self.duration(&key("hold"), text)?,
                    None => Duration::ZERO,
                },
                max_age: match &sink.max_age {
                    Some(text) => self.duration(&key("max_age"), text)?,
                    None => Duration::from_secs(2 * 24 * 3600),
                },
                name: sink.name,
                kind,
                secret: sink.secret,
                token: sink.token,
                room: sink.room,
                template: sink.template,
                feeds: sink.feeds,
                keywords: sink.keywords,
                pattern,
                digest: sink.digest,
                notify_backfill: sink.notify_backfill,
                channel: sink.channel,
                followups,
            });
        }

        let lease = match raw.storage.lease {
            Some(text) => {
                let lease = self.duration("storage.lease", &text)?;
                if lease <= fetch.timeout {
                    return Err(self.invalid(
                        "storage.lease",
                        format!(
                            "`{text}` must be longer than fetch.timeout ({}): a feed's lease \
                             has to outlast its fetch",
                            humantime::format_duration(fetch.timeout)
                        ),
                    ));
                }
                lease
            }
            None => fetch.timeout + DEFAULT_LEASE_MARGIN,
        };

        Ok(Config {
            origin: self.origin.to_owned(),
            database,
            lease,
            output,
            server,
            default_schedule,
            fetch,
            dedupe,
            websub,
            transcripts,
            feeds,
            notify,
        })
    }

    /// Validates the follow-up keys of sink `key("")` (`channel`, `followups`, `events`, each
    /// only where its kind has a use for it) and says whether the sink follows stories up.
    fn followups(
        &self,
        key: &dyn Fn(&str) -> String,
        kind: SinkKind,
        sink: &RawNotify,
    ) -> Result<bool, ConfigError> {
        let only = |field: &str, for_kind: SinkKind| {
            self.invalid(
                key(field),
                format!("`{field}` is for {for_kind} sinks only (this one is {kind})"),
            )
        };
        if sink.channel.is_some() && kind != SinkKind::Slack {
            return Err(only("channel", SinkKind::Slack));
        }
        if sink.followups.is_some() && kind != SinkKind::Ntfy {
            return Err(only("followups", SinkKind::Ntfy));
        }
        if sink.events.is_some() && kind != SinkKind::Webhook {
            return Err(only("events", SinkKind::Webhook));
        }
        Ok(match kind {
            SinkKind::Slack => match (&sink.token, &sink.channel) {
                (Some(_), Some(channel)) if !channel.trim().is_empty() => true,
                (None, None) => false,
                (Some(_), _) => {
                    return Err(self.invalid(
                        key("channel"),
                        "a slack sink with a bot `token` needs the `channel` to post in",
                    ));
                }
                (None, Some(_)) => {
                    return Err(self.invalid(
                        key("token"),
                        "a slack sink with a `channel` needs a bot `token` (an incoming \
                         webhook posts where it was made for)",
                    ));
                }
            },
            SinkKind::Discord | SinkKind::Matrix => true,
            SinkKind::Ntfy => sink.followups.unwrap_or(false),
            SinkKind::Webhook => {
                let events = sink.events.as_deref().unwrap_or_default();
                for event in events {
                    if !WEBHOOK_EVENTS.contains(&event.as_str()) {
                        return Err(self.invalid(
                            key("events"),
                            format!(
                                "`{event}` is not an event; use {}",
                                WEBHOOK_EVENTS.join(" and ")
                            ),
                        ));
                    }
                }
                if sink.events.is_some() && !events.iter().any(|e| e == "story.new") {
                    return Err(self.invalid(
                        key("events"),
                        "`story.new` cannot be left out: a `story.updated` event follows up \
                         the story.new of the same story",
                    ));
                }
                events.iter().any(|e| e == "story.updated")
            }
        })
    }

    /// The feeds of `[feed_list] opml`, to be validated as `[[feeds]]` tables are.
    fn opml_feeds(&self, file: &Path) -> Result<Vec<RawFeed>, ConfigError> {
        let unusable = |problem: String| {
            self.invalid("feed_list.opml", format!("{}: {problem}", file.display()))
        };
        let bytes = std::fs::read(file).map_err(|e| unusable(e.to_string()))?;
        let listed = crate::import::parse_opml(&bytes).map_err(|e| unusable(e.to_string()))?;
        drop(bytes);
        Ok(listed
            .into_iter()
            .map(|feed| RawFeed {
                name: feed.title,
                url: feed.url.into(),
                role: feed.role.map(|role| role.as_str().to_owned()),
                schedule: None,
            })
            .collect())
    }

    fn transcripts(&self, raw: &RawTranscripts) -> Result<TranscriptConfig, ConfigError> {
        let defaults = TranscriptConfig::default();
        let per_feed = match raw.per_feed {
            None => defaults.per_feed,
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    self.invalid(
                        "transcripts.per_feed",
                        format!("must be between 1 and 100, got {n}"),
                    )
                })?,
        };
        Ok(TranscriptConfig {
            enabled: raw.enabled.unwrap_or(defaults.enabled),
            per_feed,
        })
    }

    fn dedupe(&self, raw: RawDedupe) -> Result<Thresholds, ConfigError> {
        let defaults = Thresholds::default();
        let window = |key: &str, text: Option<String>, default| -> Result<_, ConfigError> {
            match text {
                None => Ok(default),
                Some(text) => chrono::Duration::from_std(self.duration(key, &text)?)
                    .map_err(|_| self.invalid(key, format!("`{text}` is too long"))),
            }
        };
        let content_threshold = match raw.content_threshold {
            None => defaults.content_threshold,
            Some(t) if t > 0.0 && t <= 1.0 => t,
            Some(t) => {
                return Err(self.invalid(
                    "dedupe.content_threshold",
                    format!("must be above 0 and at most 1, got {t}"),
                ));
            }
        };
        Ok(Thresholds {
            title_window: window(
                "dedupe.title_window",
                raw.title_window,
                defaults.title_window,
            )?,
            mirror_window: window(
                "dedupe.mirror_window",
                raw.mirror_window,
                defaults.mirror_window,
            )?,
            content_window: window(
                "dedupe.content_window",
                raw.content_window,
                defaults.content_window,
            )?,
            content_threshold,
            ..defaults
        })
    }

    fn http_url(&self, key: &str, text: &str) -> Result<Url, ConfigError> {
        let url = Url::parse(text.trim())
            .map_err(|e| self.invalid(key, format!("`{text}` is not a URL: {e}")))?;
        match url.scheme() {
            "http" | "https" if url.host().is_some() => Ok(url),
            "http" | "https" => Err(self.invalid(key, format!("`{text}` has no host"))),
            other => Err(self.invalid(
                key,
                format!("`{text}`: scheme `{other}` is not supported; use http or https"),
            )),
        }
    }

    fn cron(&self, key: &str, text: &str) -> Result<CronRule, ConfigError> {
        CronRule::parse(text).map_err(|e| self.invalid(key, e.to_string()))
    }

    fn duration(&self, key: &str, text: &str) -> Result<Duration, ConfigError> {
        let value = humantime::parse_duration(text).map_err(|e| {
            self.invalid(
                key,
                format!("`{text}` is not a duration such as \"30s\" or \"2m\": {e}"),
            )
        })?;
        if value.is_zero() {
            return Err(self.invalid(key, "must be longer than zero"));
        }
        Ok(value)
    }

    fn size(&self, key: &str, text: &str) -> Result<u64, ConfigError> {
        let value: bytesize::ByteSize = text.parse().map_err(|e| {
            self.invalid(
                key,
                format!("`{text}` is not a size such as \"16MiB\": {e}"),
            )
        })?;
        if value.as_u64() == 0 {
            return Err(self.invalid(key, "must be larger than zero"));
        }
        Ok(value.as_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::parse(text, "test.toml")
            .expect_err("config should be refused")
            .to_string()
    }

    #[test]
    fn embedded_default_is_valid_and_has_interconnects() {
        let config = Config::embedded_default().expect("default config");
        let urls: Vec<_> = config.feeds.iter().map(|f| f.url.as_str()).collect();
        assert!(urls.contains(&"https://www.interconnects.ai/feed"));
        assert!(urls.contains(&"https://api.substack.com/feed/podcast/48206.rss"));
        assert!(config.feeds.len() >= 5);
        assert_eq!(config.output.max_entries, 200);
        assert_eq!(config.fetch.max_body, 16 * 1024 * 1024);
    }

    #[test]
    fn unknown_keys_are_named() {
        let message = err("[output]\ntitel = \"x\"\n");
        assert!(message.contains("test.toml"), "{message}");
        assert!(message.contains("titel"), "{message}");
        let message = err(
            "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/\"\nrole = \"origin\"\nshedule = \"* * * * *\"\n",
        );
        assert!(message.contains("shedule"), "{message}");
    }

    #[test]
    fn bad_values_name_key_and_problem() {
        let cases = [
            (
                "[[feeds]]\nname = \"a\"\nurl = \"not a url\"\n",
                "feeds[0].url",
            ),
            (
                "[[feeds]]\nname = \"a\"\nurl = \"ftp://a.example/feed\"\n",
                "scheme `ftp`",
            ),
            (
                "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/\"\nschedule = \"*/5 * *\"\n",
                "feeds[0].schedule",
            ),
            ("[schedule]\ndefault = \"99 * * * *\"\n", "schedule.default"),
            ("[fetch]\ntimeout = \"soon\"\n", "fetch.timeout"),
            ("[storage]\nlease = \"a while\"\n", "storage.lease"),
            (
                "[fetch]\ntimeout = \"2m\"\n[storage]\nlease = \"90s\"\n",
                "`storage.lease`: `90s` must be longer than fetch.timeout (2m)",
            ),
            ("[fetch]\nmax_body = \"lots\"\n", "fetch.max_body"),
            ("[server]\nlisten = \"localhost\"\n", "server.listen"),
            ("[output]\nmax_entries = 0\n", "output.max_entries"),
            (
                "[output]\ncategory = \"Tech\"\n",
                "`output.category`: `Tech` is not an Apple Podcasts category",
            ),
            (
                "[output]\ncategory = \"Technology > AI\"\n",
                "`Technology` has no subcategories",
            ),
            (
                "[output]\nlanguage = \"English\"\n",
                "`output.language`: `English` is not a language code",
            ),
            ("[output]\nimage = \"art.jpg\"\n", "output.image"),
            ("[output]\nauthor = \" \"\n", "output.author"),
            ("[output]\nexplicit = \"yes\"\n", "explicit"),
            (
                "[dedupe]\ncontent_threshold = 1.5\n",
                "dedupe.content_threshold",
            ),
            (
                "[dedupe]\ntitle_window = \"a while\"\n",
                "dedupe.title_window",
            ),
            (
                "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/\"\nrole = \"copy\"\n",
                "feeds[0].role",
            ),
            (
                "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/\"\n[[feeds]]\nname = \"a\"\nurl = \"https://b.example/\"\n",
                "feeds[1].name",
            ),
            (
                "[[notify]]\nname = \"n\"\nkind = \"email\"\nurl = \"https://a.example/\"\n",
                "notify[0].kind",
            ),
            (
                "[[notify]]\nname = \"n\"\nkind = \"webhook\"\nurl = \"https://a.example/\"\npattern = \"(\"\n",
                "notify[0].pattern",
            ),
            (
                "[[notify]]\nname = \"n\"\nkind = \"webhook\"\nurl = \"https://a.example/\"\nfeeds = [\"nope\"]\n",
                "notify[0].feeds",
            ),
            (
                "[[notify]]\nname = \"n\"\nkind = \"matrix\"\nurl = \"https://matrix.example/\"\n",
                "notify[0].room",
            ),
            (
                "[[notify]]\nname = \"n\"\nkind = \"ntfy\"\nurl = \"https://ntfy.example/t\"\nhold = \"later\"\n",
                "notify[0].hold",
            ),
            (
                "[[notify]]\nname = \"n\"\nkind = \"slack\"\nurl = \"https://slack.com/api/\"\ntoken = \"xoxb\"\n",
                "notify[0].channel",
            ),
            (
                "[[notify]]\nname = \"n\"\nkind = \"slack\"\nurl = \"https://hooks.slack.com/x\"\nchannel = \"C1\"\n",
                "notify[0].token",
            ),
            (
                "[[notify]]\nname = \"n\"\nkind = \"discord\"\nurl = \"https://d.example/\"\nchannel = \"C1\"\n",
                "notify[0].channel",
            ),
            (
                "[[notify]]\nname = \"n\"\nkind = \"webhook\"\nurl = \"https://a.example/\"\nfollowups = true\n",
                "notify[0].followups",
            ),
            (
                "[[notify]]\nname = \"n\"\nkind = \"ntfy\"\nurl = \"https://ntfy.example/t\"\nevents = [\"story.new\"]\n",
                "notify[0].events",
            ),
            (
                "[[notify]]\nname = \"n\"\nkind = \"webhook\"\nurl = \"https://a.example/\"\nevents = [\"story.new\", \"story.deleted\"]\n",
                "notify[0].events",
            ),
            (
                "[[notify]]\nname = \"n\"\nkind = \"webhook\"\nurl = \"https://a.example/\"\nevents = [\"story.updated\"]\n",
                "notify[0].events",
            ),
            (
                "[server]\nbase_url = \"https://feeds.example/\"\n[websub]\nhub = \"hub.example\"\n",
                "websub.hub",
            ),
            (
                "[websub]\nhub = \"https://hub.example/\"\n",
                "`websub.hub`: a hub fetches the feeds at their public address: set [server] base_url",
            ),
            ("[transcripts]\nper_feed = 0\n", "transcripts.per_feed"),
            ("[transcripts]\nenabled = \"no\"\n", "enabled"),
        ];
        for (text, expected) in cases {
            let message = err(text);
            assert!(message.contains("test.toml"), "{message}");
            assert!(message.contains(expected), "{expected} not in {message}");
        }
    }

    #[test]
    fn each_kind_says_whether_it_follows_stories_up() {
        let text = r#"
            [[notify]]
            name = "hook"
            kind = "webhook"
            url = "https://a.example/"
            [[notify]]
            name = "hook-updates"
            kind = "webhook"
            url = "https://a.example/"
            events = ["story.new", "story.updated"]
            [[notify]]
            name = "incoming"
            kind = "slack"
            url = "https://hooks.slack.com/services/x"
            [[notify]]
            name = "bot"
            kind = "slack"
            url = "https://slack.com/api/"
            token = "xoxb-1"
            channel = "C123"
            [[notify]]
            name = "discord"
            kind = "discord"
            url = "https://discord.example/api/webhooks/1/t"
            [[notify]]
            name = "phone"
            kind = "ntfy"
            url = "https://ntfy.example/t"
            [[notify]]
            name = "phone-followups"
            kind = "ntfy"
            url = "https://ntfy.example/t"
            followups = true
        "#;
        let config = Config::parse(text, "t.toml").expect("valid");
        let followups: Vec<(&str, bool)> = config
            .notify
            .iter()
            .map(|s| (s.name.as_str(), s.followups))
            .collect();
        assert_eq!(
            followups,
            [
                ("hook", false),
                ("hook-updates", true),
                ("incoming", false),
                ("bot", true),
                ("discord", true),
                ("phone", false),
                ("phone-followups", true)
            ]
        );
        assert_eq!(config.notify[3].channel.as_deref(), Some("C123"));
    }

    #[test]
    fn one_feed_under_two_names_is_refused() {
        let message = err(
            "[[feeds]]\nname = \"blog\"\nurl = \"https://www.a.example/feed/\"\n[[feeds]]\nname = \"again\"\nurl = \"http://a.example/feed?utm_source=x\"\n",
        );
        assert_eq!(
            message,
            "test.toml: `feeds[1].url`: feeds `blog` and `again` both poll \
             `http://a.example/feed?utm_source=x` (as `https://www.a.example/feed/`); list each \
             feed once"
        );
        let message = err(
            "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n[[feeds]]\nname = \"b\"\nurl = \"https://a.example/feed\"\n",
        );
        assert!(
            message.ends_with(
                "feeds `a` and `b` both poll `https://a.example/feed`; list each feed once"
            ),
            "{message}"
        );
        // Different pages of one site are different feeds, and so are two schemes on a port
        // of their own.
        Config::parse(
            "[[feeds]]\nname = \"a\"\nurl = \"http://a.example:8080/feed\"\n[[feeds]]\nname = \"b\"\nurl = \"https://a.example:8080/feed\"\n",
            "t",
        )
        .expect("two servers");
        Config::parse(
            "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n[[feeds]]\nname = \"b\"\nurl = \"https://a.example/feed?tag=rust\"\n",
            "t",
        )
        .expect("two feeds of one site");
    }

    #[test]
    fn missing_file_is_named() {
        let error =
            Config::load(Path::new("/nonexistent/tributary.toml")).expect_err("missing file");
        let message = error.to_string();
        assert!(message.contains("/nonexistent/tributary.toml"), "{message}");
        assert!(
            std::error::Error::source(&error).is_none(),
            "the OS error is in the message, so a printed chain must not repeat it"
        );
    }

    #[test]
    fn podcast_channel_settings_and_defaults() {
        let config = Config::parse("[output]\ntitle = \"Tides\"\n", "t").expect("valid");
        let channel = &config.output.channel;
        assert_eq!(channel.author, "Tides");
        assert_eq!(channel.image, None);
        assert_eq!(channel.category.to_string(), "Technology");
        assert!(!channel.explicit);
        assert_eq!(channel.language.to_string(), "en");
        let config = Config::parse(
            "[output]\nauthor = \"Ada Writer\"\nimage = \"https://cdn.example/a.png\"\n\
             category = \"Society & Culture > Philosophy\"\nexplicit = true\nlanguage = \"de-AT\"\n",
            "t",
        )
        .expect("valid");
        let channel = &config.output.channel;
        assert_eq!(channel.author, "Ada Writer");
        assert_eq!(
            channel.image.as_ref().map(Url::as_str),
            Some("https://cdn.example/a.png")
        );
        assert_eq!(
            channel.category.to_string(),
            "Society & Culture > Philosophy"
        );
        assert!(channel.explicit);
        assert_eq!(channel.language.to_string(), "de-at");
    }

    #[test]
    fn feed_defaults() {
        let config = Config::parse(
            "[schedule]\ndefault = \"0 * * * *\"\n[[feeds]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/feed\"\n",
            "t",
        )
        .expect("valid");
        assert_eq!(config.feeds[0].role, Role::Origin);
        assert_eq!(config.feeds[0].schedule.expression(), "0 * * * *");
        assert_eq!(config.server.base_url.as_str(), "http://127.0.0.1:8088/");
        let config = Config::parse(
            "[server]\nbase_url = \"https://feeds.example/tributary\"\n",
            "t",
        )
        .expect("valid");
        assert_eq!(
            config.server.base_url.as_str(),
            "https://feeds.example/tributary/"
        );
    }

    #[test]
    fn a_feeds_lease_outlasts_its_fetch_by_ten_minutes_unless_set() {
        let default = Config::parse("[fetch]\ntimeout = \"45s\"\n", "t.toml").expect("valid");
        assert_eq!(default.lease, Duration::from_secs(45 + 600));
        let set = Config::parse("[storage]\nlease = \"1m\"\n", "t.toml").expect("valid");
        assert_eq!(set.lease, Duration::from_secs(60));
    }

    #[test]
    fn an_opml_feed_list_adds_its_feeds_after_the_tables() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let opml = dir.path().join("feeds.opml");
        std::fs::write(
            &opml,
            r#"<opml version="2.0" xmlns:t="urn:tributary:opml"><body><outline text="Friends">
              <outline text="b" xmlUrl="https://b.example/feed"/>
              <outline title="c" text="ignored" xmlUrl="https://c.example/feed" t:role="mirror"/>
            </outline></body></opml>"#,
        )
        .expect("write the OPML");
        let config = Config::parse(
            &format!(
                "[schedule]\ndefault = \"0 * * * *\"\n[feed_list]\nopml = \"{}\"\n\
                 [[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\nschedule = \"5 * * * *\"\n",
                opml.display()
            ),
            "t",
        )
        .expect("valid");
        let feeds: Vec<(&str, &str, Role, &str)> = config
            .feeds
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    f.url.as_str(),
                    f.role,
                    f.schedule.expression(),
                )
            })
            .collect();
        assert_eq!(
            feeds,
            [
                ("a", "https://a.example/feed", Role::Origin, "5 * * * *"),
                ("b", "https://b.example/feed", Role::Origin, "0 * * * *"),
                ("c", "https://c.example/feed", Role::Mirror, "0 * * * *"),
            ]
        );

        // Validated as the tables are, each outline named by its place in the list.
        let clash = Config::parse(
            &format!(
                "[feed_list]\nopml = \"{}\"\n[[feeds]]\nname = \"x\"\nurl = \"https://www.c.example/feed/\"\n",
                opml.display()
            ),
            "test.toml",
        )
        .expect_err("c is polled twice")
        .to_string();
        assert!(
            clash.starts_with("test.toml: `feed_list.opml[1].url`: feeds `x` and `c` both poll"),
            "{clash}"
        );

        let missing = dir.path().join("nope.opml");
        let message = err(&format!("[feed_list]\nopml = \"{}\"\n", missing.display()));
        assert!(message.contains("`feed_list.opml`"), "{message}");
        assert!(
            message.contains(&missing.display().to_string()),
            "{message}"
        );

        std::fs::write(&opml, "<html><body>not a list</body></html>").expect("write");
        let message = err(&format!("[feed_list]\nopml = \"{}\"\n", opml.display()));
        assert!(message.contains("`feed_list.opml`"), "{message}");
        assert!(message.contains("no <opml> root element"), "{message}");
        assert!(err("[feed_list]\nfile = \"x\"\n").contains("unknown field `file`"));
    }

    #[test]
    fn websub_and_transcript_settings() {
        let config = Config::parse("", "t").expect("valid");
        assert_eq!(config.websub, None);
        assert_eq!(config.transcripts, TranscriptConfig::default());
        assert!(config.transcripts.enabled);
        let config = Config::parse(
            "[server]\nbase_url = \"https://feeds.example/\"\n[websub]\nhub = \"https://pubsubhubbub.appspot.com/\"\n\
             [transcripts]\nenabled = false\nper_feed = 2\n",
            "t",
        )
        .expect("valid");
        assert_eq!(
            config.websub.map(|w| w.hub.to_string()),
            Some("https://pubsubhubbub.appspot.com/".to_owned())
        );
        assert_eq!(
            config.transcripts,
            TranscriptConfig {
                enabled: false,
                per_feed: 2
            }
        );
    }
}
