//! The `tributary` command line: parses arguments, loads the config, runs one command.
//! Errors become a message on stderr and an exit code here, and nowhere else.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;
use url::Url;

use tributary::atomic_file;
use tributary::clock::{Clock, SystemClock};
use tributary::config::{Config, FetchConfig};
use tributary::daemon::{self, ConfigSource};
use tributary::emit;
use tributary::fetch::{FetchOutcome, Fetched, Fetcher, Validators};
use tributary::import;
use tributary::ingest::{IngestContext, story_atom_id};
use tributary::model::{MatchReason, Story};
use tributary::normalize::{self, NormalizeError};
use tributary::notify::Notifier;
use tributary::poll;
use tributary::store::{self, Correction, StorageTarget, Store, StoreError};

#[derive(Parser)]
#[command(
    name = "tributary",
    version,
    about = "Polls a writer's feeds and their mirrors, folds every copy of one story into one \
             entry, and writes one merged Atom feed.",
    long_about = None
)]
struct Cli {
    /// Configuration file (TOML). Without it, the built-in default is used: the Interconnects
    /// newsletter and podcast and a few related feeds, stored under the current directory
    /// (or $STATE_DIRECTORY under systemd).
    #[arg(
        long,
        short,
        global = true,
        env = "TRIBUTARY_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,

    /// Log format on stderr. The level is set with RUST_LOG (default: info).
    #[arg(
        long,
        global = true,
        env = "TRIBUTARY_LOG_FORMAT",
        default_value = "human"
    )]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: poll every feed at start-up and then on schedule, serve the merged
    /// feed over HTTP ([server] listen), until SIGTERM. SIGHUP reloads the configuration.
    Run {
        /// Listen here instead of the config's [server] listen (a container binds 0.0.0.0).
        #[arg(long, value_name = "ADDRESS:PORT")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Add the feeds of another reader's OPML export to the config file given with --config
    /// (feeds it already has are skipped).
    ImportOpml {
        /// The OPML file.
        file: PathBuf,
    },
    /// Ask a running tributary's /healthz and exit 0 if it answers 200 (for container
    /// HEALTHCHECKs, where there is no curl).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8088/healthz")]
        url: Url,
    },
    /// Poll every feed once, store new and changed items, rewrite the merged feed, and exit.
    /// Exits 0 even when some feeds fail; the summary names them.
    Poll {
        /// Also poll feeds that are backing off after errors or a Retry-After.
        #[arg(long)]
        force: bool,
    },
    /// Print (or write) the merged feed as Atom, JSON Feed or RSS, or the feed list as OPML.
    Export {
        #[arg(long, value_enum, default_value = "atom")]
        format: ExportFormat,
        /// Write here (atomically) instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// List the newest stories, explain how one story was assembled, or correct one.
    #[command(args_conflicts_with_subcommands = true)]
    Stories {
        #[command(subcommand)]
        command: Option<StoriesCommand>,
        /// How many stories to list.
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: usize,
        /// A story's number or Atom id: print each member with its item number, feed, title,
        /// the evidence that put it there and the score, then the corrections made by hand.
        #[arg(long, value_name = "STORY")]
        explain: Option<String>,
        /// Print one JSON object per line per story (with --explain, the one story and its
        /// corrections) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Copy a SQLite store (every feed's state, item, story, correction, dedupe index and
    /// outbox row) into an empty PostgreSQL database, so that `[storage] database` can point
    /// there without losing history or announcing anything again. Stop tributary first.
    #[command(
        long_about = "Copy a SQLite store (every feed's state, item, story, correction, \
                      dedupe index and outbox row) into an empty PostgreSQL database, so that \
                      `[storage] database` can point there without losing history or \
                      announcing anything again. Stop tributary first.\n\n\
                      The SQLite store is upgraded to this tributary's schema first (as `poll` \
                      would); one newer than this tributary is refused. The database is \
                      brought to the latest schema and must hold no rows. Everything is copied \
                      in one transaction: on any error the database is left as it was. \
                      Messages already sent stay sent; new ids continue after the copied \
                      ones. Then set `[storage] database` to the URL."
    )]
    MigrateStore {
        /// The SQLite store to copy (`[storage] database` of the old config).
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The PostgreSQL database to copy into: postgres://user:password@host:port/dbname
        /// (the password is never printed).
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Validate the configuration and print what it resolves to.
    CheckConfig,
    /// Each feed's health (last status, last success, last error, next due time, items) and
    /// each notification sink's deliveries (pending, delivered, dead, last error).
    Status,
    /// Notification sinks ([[notify]] in the config).
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
    /// Parse one feed (a file or an http(s) URL) and print its normalised items as JSON
    /// lines. Stores nothing: the tool for finding out why one feed looks wrong.
    Inspect {
        /// A file path or an http(s) URL.
        target: String,
    },
    /// Fetch a web page and print the feeds it advertises (its `<link rel="alternate">` of
    /// RSS, Atom or JSON Feed type), one URL per line, for the config's `url`. A URL that is a
    /// feed itself is printed as it is. Fetched like a feed: the same guard against private
    /// addresses, size cap and timeout ([fetch] of --config, if given).
    Discover {
        /// The page's http(s) URL, such as a blog's home page.
        url: Url,
        /// Print one JSON object per line: {"url", "type", "title"}.
        #[arg(long)]
        json: bool,
    },
}

/// Corrections by hand: stored, never undone by later polls, never notified.
#[derive(Subcommand)]
enum StoriesCommand {
    /// Move one item out of its story into a story of its own, and keep it there.
    Split {
        /// The item's number (shown by `stories --explain STORY`).
        item: i64,
    },
    /// Fold story OTHER into STORY, which keeps its Atom id.
    Merge {
        /// The story to keep: its number or Atom id.
        story: String,
        /// The story to fold in: its number or Atom id.
        other: String,
    },
}

#[derive(Subcommand)]
enum NotifyCommand {
    /// Send a sample message to one sink and print the response status and body. Exits
    /// non-zero unless the sink answered 2xx.
    Test {
        /// The sink's `name` in the config.
        name: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Atom,
    Json,
    Rss,
    Opml,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    // A parser panic on one hostile feed is caught and becomes that feed's error; the default
    // hook would still print a backtrace for each. One log line says what happened instead
    // (and an uncaught panic is still reported, by this line and the exit status).
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(panic = %info, "panic");
    }));
    match run(cli) {
        Ok(code) => code,
        // The reader of our output went away (`tributary inspect URL | head`): it has all it
        // wanted, so this is success, and says nothing (ripgrep does the same).
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the error is standard output closed under us. Rust ignores SIGPIPE, so a closed
/// pipe arrives as an `EPIPE` write error, bare or inside a serde_json error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load_config(path: Option<&PathBuf>) -> Result<Config> {
    Ok(match path {
        Some(path) => Config::load(path)?,
        None => Config::embedded_default()?,
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Inspect { target } => inspect(&target, cli.config.as_ref()),
        Command::Discover { url, json } => discover(&url, cli.config.as_ref(), json),
        Command::Healthcheck { url } => healthcheck(&url),
        Command::Run { listen } => run_daemon(cli.config, listen),
        Command::ImportOpml { file } => import_opml(cli.config.as_ref(), &file),
        Command::MigrateStore { from, to } => migrate_store(&from, &to),
        command => {
            let config = load_config(cli.config.as_ref())?;
            match command {
                Command::Poll { force } => poll_once(&config, force),
                Command::Export { format, output } => export(&config, format, output),
                Command::Stories {
                    command: Some(command),
                    ..
                } => correct(&config, command),
                Command::Stories {
                    command: None,
                    explain: Some(key),
                    json,
                    ..
                } => explain_story(&config, &key, json),
                Command::Stories {
                    command: None,
                    limit,
                    explain: None,
                    json,
                } => list_stories(&config, limit, json),
                Command::CheckConfig => check_config(&config),
                Command::Status => status(&config),
                Command::Notify {
                    command: NotifyCommand::Test { name },
                } => notify_test(&config, &name),
                Command::Run { .. }
                | Command::Healthcheck { .. }
                | Command::ImportOpml { .. }
                | Command::MigrateStore { .. }
                | Command::Inspect { .. }
                | Command::Discover { .. } => unreachable!("handled above"),
            }
        }
    }
}

/// The runtime's blocking threads, rather than tokio's 512: every thread that allocates gets a
/// glibc malloc arena of its own, which keeps what it freed. Feeds are parsed on threads of
/// their own (`poll::parsers`), so these serve the store calls made off the async workers
/// (`store::off_the_workers`, each of which hands its worker's other tasks to a blocking
/// thread: the notifier's sinks, its timer, the WebSub pinger and the poll's writer may each
/// be in one at once), the site's pages and transcripts. With too few, a hand-off waits, and
/// so does every task on that worker, the HTTP server's among them.
const BLOCKING_THREADS: usize = 8;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn open_store(config: &Config) -> Result<Store> {
    Ok(Store::open(config.database.clone())?)
}

/// The store for commands that only read it (or correct what a poll stored), `None` where
/// there is none. Opening would create an empty database wherever the config points, and the
/// command would then report an empty history instead of the real mistake: another
/// directory, a forgotten `--config`.
fn existing_store(config: &Config) -> Result<Option<Store>> {
    // A server's database is there or the connection says why not.
    let StorageTarget::Sqlite(path) = &config.database else {
        return Ok(Some(open_store(config)?));
    };
    let exists = path
        .try_exists()
        .with_context(|| format!("cannot look for the database {}", path.display()))?;
    Ok(if exists {
        Some(open_store(config)?)
    } else {
        None
    })
}

/// What a read-only command says when [`existing_store`] found none: where it looked and why.
fn no_database(config: &Config) -> String {
    let shown = match &config.database {
        StorageTarget::Sqlite(path) => std::path::absolute(path)
            .unwrap_or_else(|_| path.clone())
            .display()
            .to_string(),
        StorageTarget::Postgres(target) => target.to_string(),
    };
    format!(
        "no database at {shown} ([storage] database of {}): nothing has been polled with this \
         configuration yet; run `tributary poll` first",
        config.origin
    )
}

fn open_existing_store(config: &Config) -> Result<Store> {
    existing_store(config)?.ok_or_else(|| anyhow::anyhow!(no_database(config)))
}

fn run_daemon(path: Option<PathBuf>, listen: Option<std::net::SocketAddr>) -> Result<ExitCode> {
    let source = ConfigSource { path, listen };
    let config = source.load()?;
    runtime()?.block_on(daemon::run(source, config))?;
    Ok(ExitCode::SUCCESS)
}

fn import_opml(config_path: Option<&PathBuf>, file: &PathBuf) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let Some(config_path) = config_path else {
        bail!("import-opml needs --config FILE: the feeds are added to that file");
    };
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("cannot read config file {}", config_path.display()))?;
    let config = Config::parse(&text, &config_path.display().to_string())?;
    let opml = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let feeds = import::parse_opml(&opml).with_context(|| format!("{}", file.display()))?;
    let plan = import::plan(&text, &config, &feeds);
    // Never write a config tributary would refuse to start with.
    Config::parse(&plan.text, &config_path.display().to_string())
        .context("the imported feeds would make the config invalid; nothing was changed")?;
    if !plan.added.is_empty() {
        atomic_file::write(config_path, plan.text.as_bytes())
            .with_context(|| format!("cannot write {}", config_path.display()))?;
    }
    for (name, url) in &plan.added {
        writeln!(out, "added {name}: {url}")?;
    }
    for url in &plan.skipped {
        writeln!(out, "skipped (already in the config): {url}")?;
    }
    writeln!(
        out,
        "{} feeds added to {}, {} skipped",
        plan.added.len(),
        config_path.display(),
        plan.skipped.len()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Needs no config: both stores are named on the command line. Runs off any async runtime, as
/// the blocking PostgreSQL client must.
fn migrate_store(from: &std::path::Path, to: &str) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let started = std::time::Instant::now();
    let copied = store::migrate::migrate_store(from, to)?;
    for table in &copied {
        writeln!(out, "{:<18} {:>10} rows", table.name, table.rows)?;
    }
    // The target as `Display` shows it: without the password.
    let target = store::postgres::PgTarget::parse(to)?;
    writeln!(
        out,
        "copied {} rows in {} tables from {} to {target} in {:.1} s; set [storage] database to \
         this URL",
        copied.iter().map(|t| t.rows).sum::<u64>(),
        copied.len(),
        from.display(),
        started.elapsed().as_secs_f64()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn healthcheck(url: &Url) -> Result<ExitCode> {
    let fetcher = Fetcher::new(&FetchConfig {
        timeout: std::time::Duration::from_secs(5),
        ..FetchConfig::default()
    })?;
    match runtime()?.block_on(fetcher.fetch(url, &Validators::default(), SystemClock.now())) {
        FetchOutcome::Fetched(_) => Ok(ExitCode::SUCCESS),
        FetchOutcome::Failed(error) => bail!("unhealthy: {error}"),
        other => bail!("unhealthy: {url} answered {other:?}"),
    }
}

fn poll_once(config: &Config, force: bool) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut store = open_store(config)?;
    let fetcher = Fetcher::new(&config.fetch)?;
    let clock = SystemClock;
    let runtime = runtime()?;
    tracing::info!(
        config = %config.origin,
        feeds = config.feeds.len(),
        database = %config.database,
        "polling"
    );
    let report = runtime.block_on(poll::run_cycle(
        config,
        &mut store,
        &fetcher,
        &clock,
        &IngestContext::new(config),
        poll::Selection::All { force },
        &mut |_| {},
    ))?;
    let stories = emit::publish_atom(config, &store, clock.now(), report.changed)?;
    for feed in &report.failures {
        eprintln!("feed {} failed: {}", feed.name, feed.outcome);
    }
    writeln!(out, "{}", report.summary(Some(stories)))?;
    if let Some(lock) = store.ingest_lock_time() {
        // Instances on one database ingest one write at a time: what that cost this poll.
        writeln!(
            out,
            "ingest lock: held {:.2} s, waited {:.2} s, {} writes",
            lock.held.as_secs_f64(),
            lock.waited.as_secs_f64(),
            lock.writes
        )?;
    }
    writeln!(out, "merged feed: {}", config.output.atom_path.display())?;

    // After the whole cycle's ingest, so every item of this cycle has folded into its story
    // before anything is sent; retries that have come due go out too.
    if !config.notify.is_empty() {
        let notifier = Notifier::new(&config.notify)?;
        let store = parking_lot::Mutex::new(store);
        let delivered = runtime.block_on(notifier.deliver_due(&store, &clock, None))?;
        for error in &delivered.errors {
            eprintln!("notify {error}");
        }
        writeln!(out, "{}", delivered.summary())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn notify_test(config: &Config, name: &str) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let notifier = Notifier::new(&config.notify)?;
    let (status, body) = runtime()?.block_on(notifier.send_test(name, &SystemClock))?;
    writeln!(out, "HTTP {status}")?;
    if !body.is_empty() {
        writeln!(out, "{body}")?;
    }
    Ok(if (200..300).contains(&status) {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: sink `{name}` answered HTTP {status}");
        ExitCode::FAILURE
    })
}

fn export(config: &Config, format: ExportFormat, output: Option<PathBuf>) -> Result<ExitCode> {
    let bytes = match format {
        ExportFormat::Opml => emit::opml(&config.feeds, &config.output.title),
        ExportFormat::Atom | ExportFormat::Json | ExportFormat::Rss => {
            let rendered = emit::render(config, &open_existing_store(config)?, SystemClock.now())?;
            match format {
                ExportFormat::Atom => rendered.atom,
                ExportFormat::Rss => rendered.rss,
                _ => rendered.json,
            }
        }
    };
    match output {
        Some(path) => atomic_file::write(&path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn list_stories(config: &Config, limit: usize, json: bool) -> Result<ExitCode> {
    let store = open_existing_store(config)?;
    let stories = store.stories(limit)?;
    let mut out = std::io::stdout().lock();
    if json {
        for story in &stories {
            serde_json::to_writer(&mut out, &StoryJson::new(story, None))?;
            out.write_all(b"\n")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if stories.is_empty() {
        writeln!(out, "no stories yet: run `tributary poll` first")?;
    }
    for story in stories {
        let lead = &story.lead().item;
        let audio = if story.enclosure().is_some() {
            " [audio]"
        } else {
            ""
        };
        writeln!(
            out,
            "{:>6}  {}  {:>2} member{}  {}{}  ({})",
            story.id,
            story.published().format("%Y-%m-%d"),
            story.members.len(),
            if story.members.len() == 1 { " " } else { "s" },
            lead.title,
            audio,
            lead.source,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn explain_story(config: &Config, key: &str, json: bool) -> Result<ExitCode> {
    let store = open_existing_store(config)?;
    let story = store
        .story(key)?
        .ok_or_else(|| StoreError::UnknownStory(key.to_owned()))?;
    let corrections = store.corrections_of(story.id)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &StoryJson::new(&story, Some(&corrections)))?;
        out.write_all(b"\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "story {}  {}", story.id, story.atom_id)?;
    writeln!(out, "title: {}", story.lead().item.title)?;
    writeln!(
        out,
        "published: {}",
        story.published().format("%Y-%m-%d %H:%M UTC")
    )?;
    writeln!(out, "members (lead first):")?;
    for member in &story.members {
        let item = &member.stored.item;
        let evidence = match member.reason {
            // A story's Atom id is derived from its founder, so the founders of stories that
            // later folded into this one (whose reason is `new` too) can be told apart.
            MatchReason::New if story_atom_id(&item.source, &item.guid) != story.atom_id => {
                "founded a story of its own, folded into this one when a later item showed \
                 both were one work"
                    .to_owned()
            }
            MatchReason::New => member.reason.describe().to_owned(),
            reason => format!(
                "{}: evidence {}, score {:.2}",
                reason.describe(),
                reason.as_str(),
                member.score
            ),
        };
        writeln!(
            out,
            "  - item {}, feed {} ({}, {}, member role {}): {}\n    {}; {}",
            member.stored.id,
            item.source,
            member.stored.role.as_str(),
            item.kind.as_str(),
            member.member_role.as_str(),
            item.title,
            evidence,
            item.link.as_deref().unwrap_or("(no link)"),
        )?;
    }
    if !corrections.is_empty() {
        writeln!(out, "corrections:")?;
        for correction in &corrections {
            writeln!(
                out,
                "  - {} on {}",
                correction.describe(story.id),
                correction.at.format("%Y-%m-%d %H:%M UTC")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `stories split` and `stories merge`. No notification is queued: a correction regroups
/// copies of works already announced.
fn correct(config: &Config, command: StoriesCommand) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut store = open_existing_store(config)?;
    let now = SystemClock.now();
    match command {
        StoriesCommand::Split { item } => {
            let split = store.split_item(item, now)?;
            writeln!(
                out,
                "item {item} is now story {} of its own (it left story {}); later polls keep it apart",
                split.story, split.other
            )?;
        }
        StoriesCommand::Merge { story, other } => {
            let merged = store.merge_stories(&story, &other, now)?;
            writeln!(
                out,
                "story {} folded into story {}, which keeps its Atom id",
                merged.other, merged.story
            )?;
        }
    }
    // The merged feed shows the correction now, not only after the next poll.
    emit::publish_atom(config, &store, now, true)?;
    writeln!(out, "merged feed: {}", config.output.atom_path.display())?;
    Ok(ExitCode::SUCCESS)
}

/// One story as `stories --json` prints it: the contract in DESIGN.md.
#[derive(Serialize)]
struct StoryJson<'a> {
    number: i64,
    atom_id: &'a str,
    title: &'a str,
    members: Vec<MemberJson<'a>>,
    /// Only with `--explain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    corrections: Option<Vec<CorrectionJson>>,
}

#[derive(Serialize)]
struct MemberJson<'a> {
    item: i64,
    feed: &'a str,
    role: &'static str,
    kind: &'static str,
    member_role: &'static str,
    title: &'a str,
    link: Option<&'a str>,
    evidence: &'static str,
    score: f64,
}

#[derive(Serialize)]
struct CorrectionJson {
    action: &'static str,
    item: Option<i64>,
    story: i64,
    other: i64,
    at: chrono::DateTime<chrono::Utc>,
}

impl<'a> StoryJson<'a> {
    fn new(story: &'a Story, corrections: Option<&[Correction]>) -> StoryJson<'a> {
        StoryJson {
            number: story.id,
            atom_id: &story.atom_id,
            title: &story.lead().item.title,
            members: story
                .members
                .iter()
                .map(|member| MemberJson {
                    item: member.stored.id,
                    feed: &member.stored.item.source,
                    role: member.stored.role.as_str(),
                    kind: member.stored.item.kind.as_str(),
                    member_role: member.member_role.as_str(),
                    title: &member.stored.item.title,
                    link: member.stored.item.link.as_deref(),
                    evidence: member.reason.as_str(),
                    score: member.score,
                })
                .collect(),
            corrections: corrections.map(|corrections| {
                corrections
                    .iter()
                    .map(|correction| CorrectionJson {
                        action: correction.action.as_str(),
                        item: correction.item,
                        story: correction.story,
                        other: correction.other,
                        at: correction.at,
                    })
                    .collect()
            }),
        }
    }
}

fn check_config(config: &Config) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: ok", config.origin)?;
    writeln!(out, "database: {}", config.database)?;
    if matches!(config.database, StorageTarget::Postgres(_)) {
        writeln!(
            out,
            "feed lease: {} (how long a dead instance's feeds wait for another)",
            humantime::format_duration(config.lease)
        )?;
    }
    writeln!(out, "merged feed: {}", config.output.atom_path.display())?;
    let channel = &config.output.channel;
    writeln!(
        out,
        "podcast channel: author `{}`, category `{}`, language `{}`, explicit {}, image {}",
        channel.author,
        channel.category,
        channel.language,
        channel.explicit,
        channel
            .image
            .as_ref()
            .map_or("(the newest episode's)", url::Url::as_str)
    )?;
    writeln!(out, "schedule: {}", config.default_schedule.expression())?;
    if let Some(websub) = &config.websub {
        writeln!(
            out,
            "websub hub: {} (told about {})",
            websub.hub, config.server.base_url
        )?;
    }
    if config.transcripts.enabled {
        writeln!(
            out,
            "transcripts: fetched, at most {} per feed per poll",
            config.transcripts.per_feed
        )?;
    } else {
        writeln!(out, "transcripts: off")?;
    }
    for feed in &config.feeds {
        writeln!(
            out,
            "feed {} ({}, every `{}`): {}",
            feed.name,
            feed.role.as_str(),
            feed.schedule.expression(),
            feed.url
        )?;
    }
    for sink in &config.notify {
        // Whether a story that changes later is followed up (an edit, or ntfy's new message).
        let followups = if sink.followups {
            ", follows stories up"
        } else {
            ""
        };
        writeln!(
            out,
            "notify {} ({:?}): {}{followups}",
            sink.name, sink.kind, sink.url
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn status(config: &Config) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    // Before the first poll the feeds and sinks are still worth listing, as never polled.
    let (sources, totals) = match existing_store(config)? {
        Some(store) => (store.sources()?, store.sink_totals()?),
        None => {
            eprintln!("note: {}", no_database(config));
            (Vec::new(), Vec::new())
        }
    };
    let fmt = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "-".into())
    };
    writeln!(
        out,
        "{:<24} {:<14} {:<17} {:<17} {:>6} {:>6}  LAST ERROR",
        "FEED", "STATUS", "LAST SUCCESS", "NEXT DUE", "ERRORS", "ITEMS"
    )?;
    for feed in &config.feeds {
        let Some(source) = sources.iter().find(|s| s.name == feed.name) else {
            writeln!(out, "{:<24} never polled", feed.name)?;
            continue;
        };
        let state = &source.state;
        let next = if state.gone {
            "never (gone)".to_owned()
        } else {
            fmt(state.next_due_at)
        };
        writeln!(
            out,
            "{:<24} {:<14} {:<17} {:<17} {:>6} {:>6}  {}",
            feed.name,
            state.last_status.as_deref().unwrap_or("never polled"),
            fmt(state.last_success_at),
            next,
            state.consecutive_errors,
            source.items_seen,
            state.last_error.as_deref().unwrap_or(""),
        )?;
        if let Some(moved) = &state.moved_to {
            writeln!(out, "{:<24} moved permanently; polled at {moved}", "")?;
        }
    }

    if !config.notify.is_empty() || !totals.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{:<24} {:<8} {:>8} {:>9} {:>6} {:>8}  LAST ERROR",
            "SINK", "KIND", "PENDING", "DELIVERED", "DEAD", "FILTERED"
        )?;
        let mut names: Vec<&str> = config.notify.iter().map(|s| s.name.as_str()).collect();
        // Deliveries of a sink removed from the config still show, so none goes unseen.
        names.extend(
            totals
                .iter()
                .map(|t| t.sink.as_str())
                .filter(|name| !config.notify.iter().any(|s| s.name == *name)),
        );
        for name in names {
            let kind = config.notify.iter().find(|s| s.name == name).map_or_else(
                || "removed".to_owned(),
                |s| format!("{:?}", s.kind).to_lowercase(),
            );
            let row = totals.iter().find(|t| t.sink == name);
            let count = |f: fn(&tributary::store::SinkTotals) -> i64| row.map_or(0, f);
            writeln!(
                out,
                "{:<24} {:<8} {:>8} {:>9} {:>6} {:>8}  {}",
                name,
                kind,
                count(|t| t.pending),
                count(|t| t.delivered),
                count(|t| t.dead),
                count(|t| t.filtered),
                row.and_then(|t| t.last_error.as_deref()).unwrap_or(""),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect(target: &str, config: Option<&PathBuf>) -> Result<ExitCode> {
    let now = SystemClock.now();
    let (bytes, base) = match Url::parse(target) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            let fetched = fetch_once(&url, config, now)?;
            (fetched.body, fetched.final_url)
        }
        _ => {
            let path = PathBuf::from(target);
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let absolute = std::path::absolute(&path).unwrap_or(path);
            let base = Url::from_file_path(&absolute)
                .map_err(|()| anyhow::anyhow!("{} is not a usable path", absolute.display()))?;
            (bytes, base)
        }
    };
    let parsed = normalize::parse_feed(&bytes, &base, "inspect", now)
        .with_context(|| format!("{target} is not a readable feed"))?;
    let mut out = std::io::stdout().lock();
    for item in &parsed.items {
        serde_json::to_writer(&mut out, &item.sanitized())?;
        out.write_all(b"\n")?;
    }
    eprintln!(
        "{}: {} items{}",
        target,
        parsed.items.len(),
        parsed
            .title
            .map(|t| format!(" from \"{t}\""))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// One unconditional GET as a poll makes it: the same SSRF guard, body cap and deadline, with
/// the `[fetch]` settings of `--config` when one is given.
fn fetch_once(
    url: &Url,
    config: Option<&PathBuf>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Fetched> {
    let fetch_config = match config {
        Some(path) => Config::load(path)?.fetch,
        None => FetchConfig::default(),
    };
    let fetcher = Fetcher::new(&fetch_config)?;
    match runtime()?.block_on(fetcher.fetch(url, &Validators::default(), now)) {
        FetchOutcome::Fetched(fetched) => Ok(fetched),
        FetchOutcome::Failed(error) => bail!("{error}"),
        FetchOutcome::Gone => bail!("{url}: 410 Gone"),
        FetchOutcome::RateLimited {
            status,
            retry_after,
        } => bail!(
            "{url}: HTTP {status} (rate limited{})",
            retry_after
                .map(|t| format!("; retry after {t}"))
                .unwrap_or_default()
        ),
        FetchOutcome::NotModified { .. } => {
            bail!("{url}: 304 Not Modified to an unconditional request")
        }
    }
}

/// `tributary discover URL`: the feeds a page advertises, one URL per line (or one JSON object
/// per line), ready to paste into the config. A URL that is itself a feed is printed as is.
fn discover(url: &Url, config: Option<&PathBuf>, json: bool) -> Result<ExitCode> {
    if !matches!(url.scheme(), "http" | "https") {
        bail!("{url}: only http and https pages can be fetched");
    }
    let now = SystemClock.now();
    let fetched = fetch_once(url, config, now)?;
    let feeds = match normalize::parse_feed(&fetched.body, &fetched.final_url, "discover", now) {
        Ok(parsed) => vec![FoundFeed {
            url: fetched.final_url.into(),
            media_type: None,
            title: parsed.title,
        }],
        Err(NormalizeError::AdvertisesFeeds(feeds)) => feeds
            .into_iter()
            .map(|feed| FoundFeed {
                url: feed.url.into(),
                media_type: Some(feed.media_type),
                title: feed.title,
            })
            .collect(),
        Err(NormalizeError::HtmlPage) => bail!(
            "{url}: the page advertises no feed (no <link rel=\"alternate\"> of type \
             application/rss+xml, application/atom+xml or application/feed+json)"
        ),
        Err(error) => bail!("{url} is neither a feed nor an HTML page: {error}"),
    };
    let mut out = std::io::stdout().lock();
    for feed in &feeds {
        if json {
            serde_json::to_writer(&mut out, feed)?;
            out.write_all(b"\n")?;
        } else {
            writeln!(out, "{}", feed.url)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of `discover --json`. `type` is null when the URL given is a feed itself.
#[derive(Serialize)]
struct FoundFeed {
    url: String,
    #[serde(rename = "type")]
    media_type: Option<String>,
    title: Option<String>,
}
