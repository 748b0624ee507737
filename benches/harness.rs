//! The pipeline benchmark's Rust side. `scripts/bench/run.sh` drives it; run that, not this
//! (see docs/benchmarks.md). Each measuring subcommand prints one line
//! `RESULT stage=... wall=S cpu=S ...` that the script collects; wall and CPU cover the
//! measured section only (not start-up, not loading the corpus into memory).
//!
//! - `generate`: N feeds (Substack-like RSS with CDATA, Atom with escaped HTML, podcast RSS, and
//!   a tenth of aggregator feeds mirroring another feed's posts), 20 items of 2-5 KB each, plus
//!   `feeds.tsv` (name, url, role, file), `feeds.toml` (the `[[feeds]]` of a config) and
//!   `feeds.opml` (the same list for a config's `[feed_list] opml`).
//! - `mutate`: rewrites a fraction of the feeds with one new item (the oldest drops out), or
//!   with `--edit` with their newest item retitled (the same guid, edited in place), and moves
//!   their mtime on, so nginx's ETag changes.
//! - `fetch`: the raw fetch ceiling: GET every URL at tributary's concurrency (16 at once, 2
//!   per host), bodies read and discarded; `--conditional` sends the validators the previous
//!   run saved.
//! - `scan`: a raw quick-xml event scan of every feed file, one thread.
//! - `parse`: `normalize::parse_feed` over every feed file on `--threads` threads.
//! - `insert`: the parsed items of every feed into a fresh store through
//!   `ingest::ingest_feed_ahead`, as a cold poll stores them: sanitised and their own dedupe
//!   keys derived beforehand (the poll does both on its parser threads), origins before
//!   mirrors, in the poll's write batches (one transaction per batch).
//! - `raw-insert`: the reference `insert` is a ratio of: the same rows (a story per item, the
//!   item's row, its poll state) and dedupe keys (title keys, title grams, text anchors,
//!   outbound links) written with plain cached rusqlite statements, in the same batches, under
//!   the store's schema and settings (`store::MIGRATIONS`, `store::PRAGMAS`). What ingest does
//!   beyond it (matching, its lookups, learning boilerplate) is what the ratio prices.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, TimeZone, Utc};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use tributary::config::Config;
use tributary::dedupe::{Decorations, ItemKeys, OwnKeys, Probe};
use tributary::ingest::{self, IngestContext};
use tributary::model::{MemberRole, Role};
use tributary::normalize::{self, ParsedFeed};
use tributary::poll::{MAX_WRITE_BATCH, MAX_WRITE_ITEMS};
use tributary::store::{MIGRATIONS, PRAGMAS, PollState, Store};
use url::Url;

/// Items per feed, as the issue asks (Substack's feeds carry 20).
const ITEMS_PER_FEED: u64 = 20;

/// Fetches at once, and per host: tributary's own limits (src/poll.rs).
const CONCURRENT_FETCHES: usize = 16;
const CONCURRENT_FETCHES_PER_HOST: usize = 2;

#[derive(Parser)]
#[command(about = "tributary's pipeline benchmark (driven by scripts/bench/run.sh)")]
struct Cli {
    /// Without one (as plain `cargo bench` runs it), print how to run the benchmark and exit.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Write N feeds, feeds.tsv and feeds.toml into --dir.
    Generate {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 1000)]
        feeds: usize,
        /// Base URLs the feeds are served under, comma-separated; feeds are spread over them.
        #[arg(long, value_delimiter = ',', required = true)]
        base: Vec<String>,
    },
    /// Give a fraction of the feeds one new item; `round` picks which feeds.
    Mutate {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 0.1)]
        fraction: f64,
        #[arg(long)]
        round: usize,
        /// Edit each chosen feed's newest item (a new title, the same guid) instead of adding
        /// one: the poll updates it in place.
        #[arg(long)]
        edit: bool,
    },
    /// GET every feed URL and discard the bodies.
    Fetch {
        #[arg(long)]
        dir: PathBuf,
        /// Send the validators saved by the previous run (If-None-Match, If-Modified-Since).
        #[arg(long)]
        conditional: bool,
        /// A label for the RESULT line.
        #[arg(long, default_value = "raw_fetch")]
        stage: String,
    },
    /// quick-xml event scan of every feed file.
    Scan {
        #[arg(long)]
        dir: PathBuf,
    },
    /// normalize::parse_feed over every feed file.
    Parse {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Also sanitise every item's HTML, as storing a new item does (the poll sanitises
        /// only the items it stores; this prices doing it for all of them).
        #[arg(long)]
        sanitize: bool,
    },
    /// Ingest every feed's parsed items into a fresh store.
    Insert {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Write the same rows and keys as `insert` with plain rusqlite: its reference.
    RawInsert {
        #[arg(long)]
        dir: PathBuf,
    },
}

fn main() {
    // `cargo bench` passes `--bench` to every bench target; it means nothing here.
    let args = std::env::args().filter(|a| a != "--bench");
    let cli = Cli::parse_from(args);
    let Some(command) = cli.command else {
        println!("benches/harness.rs is driven by scripts/bench/run.sh (see docs/benchmarks.md)");
        return;
    };
    match command {
        Command::Generate { dir, feeds, base } => generate(&dir, feeds, &base),
        Command::Mutate {
            dir,
            fraction,
            round,
            edit,
        } => mutate(&dir, fraction, round, edit),
        Command::Fetch {
            dir,
            conditional,
            stage,
        } => fetch(&dir, conditional, &stage),
        Command::Scan { dir } => scan(&dir),
        Command::Parse {
            dir,
            threads,
            sanitize,
        } => parse(&dir, threads, sanitize),
        Command::Insert { dir } => insert(&dir),
        Command::RawInsert { dir } => raw_insert(&dir),
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

/// User + system CPU seconds of this process so far (all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux: /proc/self/stat");
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .expect("stat has a command name in parentheses");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 overall (utime, stime) are 12th and 13th after the name; USER_HZ is 100.
    let ticks = |i: usize| fields[i].parse::<f64>().expect("numeric stat field");
    (ticks(11) + ticks(12)) / 100.0
}

struct Measured {
    wall: f64,
    cpu: f64,
}

fn measure<T>(work: impl FnOnce() -> T) -> (T, Measured) {
    let cpu = cpu_seconds();
    let started = Instant::now();
    let out = work();
    let wall = started.elapsed().as_secs_f64();
    (
        out,
        Measured {
            wall,
            cpu: cpu_seconds() - cpu,
        },
    )
}

fn report(stage: &str, m: &Measured, extra: &str) {
    println!(
        "RESULT stage={stage} wall={:.4} cpu={:.3} {extra}",
        m.wall, m.cpu
    );
}

// ---------------------------------------------------------------------------------------------
// The corpus on disk

struct FeedRow {
    name: String,
    url: String,
    role: String,
    file: PathBuf,
}

fn read_rows(dir: &Path) -> Vec<FeedRow> {
    let text = std::fs::read_to_string(dir.join("feeds.tsv")).expect("feeds.tsv (run generate)");
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert!(cols.len() == 4, "feeds.tsv: four columns: {line}");
            FeedRow {
                name: cols[0].to_owned(),
                url: cols[1].to_owned(),
                role: cols[2].to_owned(),
                file: dir.join(cols[3]),
            }
        })
        .collect()
}

struct Doc {
    name: String,
    url: Url,
    role: String,
    bytes: Vec<u8>,
}

fn load_corpus(dir: &Path) -> Vec<Doc> {
    read_rows(dir)
        .into_iter()
        .map(|row| Doc {
            bytes: std::fs::read(&row.file).expect("feed file"),
            url: Url::parse(&row.url).expect("feed URL"),
            name: row.name,
            role: row.role,
        })
        .collect()
}

fn corpus_bytes(corpus: &[Doc]) -> usize {
    corpus.iter().map(|d| d.bytes.len()).sum()
}

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

// ---------------------------------------------------------------------------------------------
// scan, parse, insert

fn scan(dir: &Path) {
    let corpus = load_corpus(dir);
    let bytes = corpus_bytes(&corpus);
    let (events, m) = measure(|| {
        let mut events = 0usize;
        for doc in &corpus {
            let mut reader = quick_xml::Reader::from_reader(doc.bytes.as_slice());
            loop {
                match reader.read_event() {
                    Ok(quick_xml::events::Event::Eof) => break,
                    Ok(event) => {
                        events += 1;
                        std::hint::black_box(event);
                    }
                    Err(error) => panic!("{}: {error}", doc.name),
                }
            }
        }
        events
    });
    report(
        "scan",
        &m,
        &format!(
            "feeds={} bytes={bytes} events={events} mbps={:.1}",
            corpus.len(),
            bytes as f64 / 1e6 / m.wall
        ),
    );
}

/// Parses every document on `threads` threads; `None` where a document failed.
fn parse_corpus(
    corpus: &[Doc],
    threads: usize,
    sanitize: bool,
    at: DateTime<Utc>,
) -> Vec<Option<ParsedFeed>> {
    let next = AtomicUsize::new(0);
    let mut out: Vec<Option<ParsedFeed>> = (0..corpus.len()).map(|_| None).collect();
    let parts: Vec<Vec<(usize, ParsedFeed)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(doc) = corpus.get(i) else { break };
                        match normalize::parse_feed(&doc.bytes, &doc.url, &doc.name, at) {
                            Ok(parsed) => {
                                if sanitize {
                                    for item in &parsed.items {
                                        std::hint::black_box(item.sanitized());
                                    }
                                }
                                done.push((i, parsed));
                            }
                            Err(error) => eprintln!("{}: {error}", doc.name),
                        }
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("parser thread"))
            .collect()
    });
    for (i, parsed) in parts.into_iter().flatten() {
        out[i] = Some(parsed);
    }
    out
}

fn parse(dir: &Path, threads: usize, sanitize: bool) {
    let corpus = load_corpus(dir);
    let bytes = corpus_bytes(&corpus);
    let at = now();
    let (parsed, m) = measure(|| parse_corpus(&corpus, threads, sanitize, at));
    let items: usize = parsed.iter().flatten().map(|p| p.items.len()).sum();
    let failed = parsed.iter().filter(|p| p.is_none()).count();
    report(
        &format!(
            "parse_{threads}t{}",
            if sanitize { "_sanitized" } else { "" }
        ),
        &m,
        &format!(
            "feeds={} bytes={bytes} items={items} failed={failed} mbps={:.1}",
            corpus.len(),
            bytes as f64 / 1e6 / m.wall
        ),
    );
}

/// What `insert` and `raw-insert` both write: the corpus parsed and sanitised, and the order
/// and batches a cold poll writes it in.
struct InsertCorpus {
    corpus: Vec<Doc>,
    parsed: Vec<Option<ParsedFeed>>,
    /// Each parsed feed's items' own dedupe keys, derived ahead as the poll's parser threads do.
    own_keys: Vec<Vec<OwnKeys>>,
    config: Config,
    /// Indexes into `corpus`, one inner list per transaction.
    batches: Vec<Vec<usize>>,
    items: usize,
    at: DateTime<Utc>,
}

fn insert_corpus(dir: &Path) -> InsertCorpus {
    let corpus = load_corpus(dir);
    let at = now();
    let mut parsed = parse_corpus(&corpus, 2, false, at);
    // As the poll does on its parser threads, before the writer sees the items.
    for feed in parsed.iter_mut().flatten() {
        for item in &mut feed.items {
            item.sanitize_ahead();
        }
    }
    let own_keys = parsed
        .iter()
        .map(|feed| {
            feed.as_ref()
                .map(|feed| ingest::keys_ahead(&feed.items))
                .unwrap_or_default()
        })
        .collect();
    let toml = std::fs::read_to_string(dir.join("feeds.toml")).expect("feeds.toml");
    let config = Config::parse(&toml, "feeds.toml").expect("feeds.toml is a valid config");
    // Origins before mirrors, as the poll holds mirrors back until every origin is written;
    // a batch closes at the poll's limits (the poll may close one earlier, on its timer).
    let is_origin = |i: &usize| corpus[*i].role == "origin";
    let order: Vec<usize> = (0..corpus.len())
        .filter(is_origin)
        .chain((0..corpus.len()).filter(|i| !is_origin(i)))
        .filter(|&i| parsed[i].is_some())
        .collect();
    let mut batches: Vec<Vec<usize>> = vec![Vec::new()];
    let mut pending = 0;
    for i in order {
        let batch = batches.last_mut().expect("a batch is open");
        batch.push(i);
        pending += parsed[i].as_ref().map_or(0, |p| p.items.len());
        if batch.len() >= MAX_WRITE_BATCH || pending >= MAX_WRITE_ITEMS {
            batches.push(Vec::new());
            pending = 0;
        }
    }
    batches.retain(|b| !b.is_empty());
    let items = parsed.iter().flatten().map(|p| p.items.len()).sum();
    InsertCorpus {
        corpus,
        parsed,
        own_keys,
        config,
        batches,
        items,
        at,
    }
}

fn insert(dir: &Path) {
    let InsertCorpus {
        corpus,
        parsed,
        own_keys,
        config,
        batches,
        items,
        at,
    } = insert_corpus(dir);
    let context = IngestContext::new(&config);
    let work = tempfile::tempdir_in(dir).expect("temporary directory");
    let path = work.path().join("insert.db");
    let (stories, m) = measure(|| {
        let mut store = Store::open(&path).expect("store");
        store.sync_sources(&config.feeds).expect("sources");
        let sources: HashMap<String, _> = store
            .sources()
            .expect("sources")
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        let state = poll_state(at);
        let mut stories = 0;
        for batch in &batches {
            let tx = store.begin_write().expect("begin");
            for &i in batch {
                let Some(feed) = &parsed[i] else { continue };
                let source = &sources[&corpus[i].name];
                let summary = ingest::ingest_feed_ahead(
                    &tx,
                    source,
                    feed.title.as_deref(),
                    &feed.items,
                    &own_keys[i],
                    &context,
                    at,
                )
                .expect("ingest");
                tx.save_poll_state(source.id, &state).expect("poll state");
                stories += summary.new_stories;
            }
            tx.commit().expect("commit");
        }
        stories
    });
    let db_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    report(
        "insert",
        &m,
        &format!(
            "feeds={} items={items} stories={stories} batches={} db_mb={:.1} items_per_s={:.0}",
            corpus.len(),
            batches.len(),
            db_bytes as f64 / 1e6,
            items as f64 / m.wall
        ),
    );
}

/// The state a successful first poll leaves.
fn poll_state(at: DateTime<Utc>) -> PollState {
    PollState {
        last_status: Some("ok".into()),
        last_attempt_at: Some(at),
        last_success_at: Some(at),
        backfilled: true,
        ..PollState::default()
    }
}

/// One item's row and keys, made before the raw insert is timed.
struct RawRow {
    guid: String,
    data: String,
    content_hash: String,
    atom_id: String,
    published: String,
    member_role: &'static str,
    keys: ItemKeys,
}

fn raw_insert(dir: &Path) {
    let InsertCorpus {
        corpus,
        parsed,
        batches,
        items,
        at,
        ..
    } = insert_corpus(dir);
    // The keys as ingest derives them, without the decorations and boilerplate it learns along
    // the way (which change which keys an item has, not how many rows are written).
    let decorations = Decorations::new(std::iter::empty());
    let boilerplate = Default::default();
    let rows: Vec<Vec<RawRow>> = corpus
        .iter()
        .zip(&parsed)
        .map(|(doc, feed)| {
            let role = Role::parse(&doc.role).expect("feeds.tsv role");
            let items = feed
                .as_ref()
                .map(|f| f.items.as_slice())
                .unwrap_or_default();
            items
                .iter()
                .map(|parsed| {
                    let item = parsed.sanitized();
                    let published = item.published.unwrap_or(at);
                    let probe = Probe::new(&item, role, published, &decorations, &boilerplate);
                    RawRow {
                        data: serde_json::to_string(&item).expect("item as JSON"),
                        content_hash: parsed.content_hash(),
                        atom_id: ingest::story_atom_id(&doc.name, &item.guid),
                        published: tributary::store::timestamp(published),
                        member_role: MemberRole::implied(role, item.kind).as_str(),
                        guid: item.guid,
                        keys: probe.keys,
                    }
                })
                .collect()
        })
        .collect();
    let work = tempfile::tempdir_in(dir).expect("temporary directory");
    let path = work.path().join("raw.db");
    let now = tributary::store::timestamp(at);
    let (key_rows, m) = measure(|| {
        let mut conn = rusqlite::Connection::open(&path).expect("open");
        for (name, value) in PRAGMAS {
            conn.pragma_update(None, name, value).expect("pragma");
        }
        conn.set_prepared_statement_cache_capacity(128);
        for migration in MIGRATIONS {
            conn.execute_batch(migration).expect("schema");
        }
        let mut source_ids = Vec::with_capacity(corpus.len());
        {
            let tx = conn.transaction().expect("begin");
            for doc in &corpus {
                tx.prepare_cached("INSERT INTO sources (name, url, role) VALUES (?1, ?2, ?3)")
                    .and_then(|mut s| s.execute((&doc.name, doc.url.as_str(), &doc.role)))
                    .expect("source");
                source_ids.push(tx.last_insert_rowid());
            }
            tx.commit().expect("commit");
        }
        let mut key_rows = 0usize;
        for batch in &batches {
            let tx = conn.transaction().expect("begin");
            for &i in batch {
                let source_id = source_ids[i];
                for row in &rows[i] {
                    tx.prepare_cached(
                        "INSERT INTO stories (atom_id, created_at, published, updated_at)
                         VALUES (?1, ?2, ?3, ?2)",
                    )
                    .and_then(|mut s| s.execute((&row.atom_id, &now, &row.published)))
                    .expect("story");
                    let story_id = tx.last_insert_rowid();
                    tx.prepare_cached(
                        "INSERT INTO items (source_id, guid, data, content_hash, canonical_url,
                            title_key, published, first_seen, changed_at, story_id, match_reason,
                            match_score, member_role)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, 'new', 1.0, ?10)",
                    )
                    .and_then(|mut s| {
                        s.execute(rusqlite::params![
                            source_id,
                            row.guid,
                            row.data,
                            row.content_hash,
                            row.keys.canonical_url,
                            row.keys.title_key,
                            row.published,
                            now,
                            story_id,
                            row.member_role
                        ])
                    })
                    .expect("item");
                    let item_id = tx.last_insert_rowid();
                    let mut key = |sql: &str, key: &dyn rusqlite::ToSql| {
                        tx.prepare_cached(sql)
                            .and_then(|mut s| s.execute(rusqlite::params![key, item_id]))
                            .expect("key");
                        key_rows += 1;
                    };
                    let keys = &row.keys;
                    for anchor in &keys.anchors {
                        key("INSERT OR IGNORE INTO text_anchors VALUES (?1, ?2)", anchor);
                    }
                    for title in keys.title_key.iter().chain(&keys.title_variants) {
                        key("INSERT OR IGNORE INTO title_keys VALUES (?1, ?2)", title);
                    }
                    for gram in &keys.title_grams {
                        key("INSERT OR IGNORE INTO title_grams VALUES (?1, ?2)", gram);
                    }
                    for link in &keys.outbound_links {
                        key("INSERT OR IGNORE INTO outbound_links VALUES (?1, ?2)", link);
                    }
                }
                tx.prepare_cached(
                    "UPDATE sources SET last_status = 'ok', last_attempt_at = ?2,
                        last_success_at = ?2, backfilled = 1, items_seen = ?3 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(rusqlite::params![source_id, now, rows[i].len()]))
                .expect("poll state");
            }
            tx.commit().expect("commit");
        }
        key_rows
    });
    let db_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    report(
        "raw_insert",
        &m,
        &format!(
            "feeds={} items={items} key_rows={key_rows} batches={} db_mb={:.1} items_per_s={:.0}",
            corpus.len(),
            batches.len(),
            db_bytes as f64 / 1e6,
            items as f64 / m.wall
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// fetch

#[derive(Default, Clone)]
struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
}

fn read_validators(path: &Path) -> HashMap<String, Validators> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let url = cols.next()?.to_owned();
            let some = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
            Some((
                url,
                Validators {
                    etag: some(cols.next()),
                    last_modified: some(cols.next()),
                },
            ))
        })
        .collect()
}

fn fetch(dir: &Path, conditional: bool, stage: &str) {
    let rows = read_rows(dir);
    let saved_path = dir.join("validators.tsv");
    let saved = if conditional {
        read_validators(&saved_path)
    } else {
        HashMap::new()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let client = reqwest::Client::builder()
        .user_agent("tributary-bench")
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");
    let mut hosts: HashMap<String, Arc<tokio::sync::Semaphore>> = HashMap::new();
    let jobs: Vec<_> = rows
        .iter()
        .map(|row| {
            let url = Url::parse(&row.url).expect("feed URL");
            let host = url.host_str().unwrap_or_default().to_owned();
            let limit = hosts
                .entry(host)
                .or_insert_with(|| {
                    Arc::new(tokio::sync::Semaphore::new(CONCURRENT_FETCHES_PER_HOST))
                })
                .clone();
            let validators = saved.get(&row.url).cloned().unwrap_or_default();
            (row.url.clone(), url, limit, validators)
        })
        .collect();

    let (results, m) = measure(|| {
        runtime.block_on(async {
            futures_util::stream::iter(jobs)
                .map(|(key, url, limit, validators)| {
                    let client = client.clone();
                    async move {
                        let _permit = limit.acquire_owned().await.expect("semaphore open");
                        let mut request = client.get(url);
                        if let Some(etag) = &validators.etag {
                            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
                        }
                        if let Some(date) = &validators.last_modified {
                            request = request.header(reqwest::header::IF_MODIFIED_SINCE, date);
                        }
                        let mut response = request.send().await.expect("GET (is nginx up?)");
                        let status = response.status().as_u16();
                        let header = |name| {
                            response
                                .headers()
                                .get(name)
                                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                                .map(str::to_owned)
                        };
                        let received = Validators {
                            etag: header(reqwest::header::ETAG).or(validators.etag),
                            last_modified: header(reqwest::header::LAST_MODIFIED)
                                .or(validators.last_modified),
                        };
                        let mut bytes = 0usize;
                        while let Some(chunk) = response.chunk().await.expect("body") {
                            bytes += chunk.len();
                        }
                        (key, status, bytes, received)
                    }
                })
                .buffer_unordered(CONCURRENT_FETCHES)
                .collect::<Vec<_>>()
                .await
        })
    });

    let mut counts: HashMap<u16, usize> = HashMap::new();
    let mut bytes = 0usize;
    let mut out = String::new();
    for (url, status, body, validators) in &results {
        *counts.entry(*status).or_default() += 1;
        bytes += body;
        let _ = writeln!(
            out,
            "{url}\t{}\t{}",
            validators.etag.as_deref().unwrap_or_default(),
            validators.last_modified.as_deref().unwrap_or_default()
        );
    }
    std::fs::write(&saved_path, out).expect("write validators.tsv");
    let other = results.len() - counts.get(&200).unwrap_or(&0) - counts.get(&304).unwrap_or(&0);
    report(
        stage,
        &m,
        &format!(
            "requests={} ok={} not_modified={} other={other} bytes={bytes} rps={:.0}",
            results.len(),
            counts.get(&200).unwrap_or(&0),
            counts.get(&304).unwrap_or(&0),
            results.len() as f64 / m.wall
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// generate, mutate

/// A small deterministic generator, so every run writes the same corpus.
struct Rng(u64);

impl Rng {
    fn seeded(a: u64, b: u64) -> Rng {
        let mut rng = Rng(
            (a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.wrapping_mul(0xc2b2_ae35))
                .wrapping_add(0x2545_f491_4f6c_dd1d)
                | 1,
        );
        for _ in 0..4 {
            rng.next();
        }
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    #[expect(
        clippy::cast_possible_truncation,
        reason = "the remainder is below `n`, which is a usize"
    )]
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(len);
        s
    }
}

const COMMON: [&str; 64] = [
    "the", "of", "and", "to", "a", "in", "that", "is", "for", "it", "as", "with", "on", "this",
    "are", "be", "by", "not", "we", "but", "or", "have", "from", "at", "more", "can", "an",
    "which", "models", "they", "their", "what", "will", "one", "about", "there", "so", "all",
    "when", "if", "model", "training", "data", "new", "how", "like", "just", "other", "these",
    "than", "been", "would", "our", "also", "into", "some", "most", "people", "open", "labs",
    "compute", "research", "policy", "release",
];

fn rare_word(i: usize) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ren", "tu", "sa", "vel", "or", "pi", "dan", "ge", "hu", "ny", "bro",
        "ste", "qua",
    ];
    let mut w = String::new();
    let mut n = i + 17;
    while n > 0 {
        w.push_str(SYLLABLES[n % 16]);
        n /= 16;
    }
    w
}

fn word(rng: &mut Rng) -> String {
    if rng.below(100) < 40 {
        COMMON[rng.below(COMMON.len())].to_owned()
    } else {
        rare_word(rng.below(8_000))
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn sentence(rng: &mut Rng, out: &mut String, domain: Option<&str>) {
    let words = rng.range(8, 24);
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        let w = word(rng);
        let w = if i == 0 { capitalised(&w) } else { w };
        match domain.map(|d| (d, rng.below(40))) {
            Some((domain, 0)) => {
                let _ = write!(
                    out,
                    "<a href=\"https://{domain}/p/{}-{}?utm_source=substack&amp;utm_medium=email\">{w}</a>",
                    word(rng),
                    word(rng)
                );
            }
            Some((_, 1)) => {
                let _ = write!(out, "<strong>{w}</strong>");
            }
            Some((_, 2)) => {
                let _ = write!(out, "<em>{w}</em>");
            }
            _ => out.push_str(&w),
        }
    }
    out.push('.');
}

fn paragraph(rng: &mut Rng, domain: &str) -> String {
    let mut out = String::from("<p>");
    for i in 0..rng.range(2, 5) {
        if i > 0 {
            out.push(' ');
        }
        sentence(rng, &mut out, Some(domain));
    }
    out.push_str("</p>");
    out
}

fn substack_image(rng: &mut Rng) -> String {
    let id = format!("{}-{}-{}", rng.hex(8), rng.hex(4), rng.hex(12));
    let src =
        format!("https://substack-post-media.s3.amazonaws.com/public/images/{id}_1456x816.png");
    let cdn = "https://substackcdn.com/image/fetch";
    format!(
        "<div class=\"captioned-image-container\"><figure><a class=\"image-link image2 \
         is-viewable-img\" target=\"_blank\" href=\"{cdn}/f_auto,q_auto:good/{src}\"><div \
         class=\"image2-inset\"><picture><source type=\"image/webp\" srcset=\"{cdn}/w_424,c_limit,\
         f_webp/{src} 424w, {cdn}/w_848,c_limit,f_webp/{src} 848w, {cdn}/w_1456,c_limit,f_webp/\
         {src} 1456w\" sizes=\"100vw\"><img src=\"{cdn}/w_1456,c_limit,f_auto/{src}\" width=\"1456\" \
         height=\"816\" data-attrs=\"{{&quot;src&quot;:&quot;{src}&quot;,&quot;height&quot;:816,\
         &quot;width&quot;:1456}}\" class=\"sizing-normal\" alt=\"\" loading=\"lazy\"></picture>\
         </div></a><figcaption class=\"image-caption\">Figure: {}</figcaption></figure></div>",
        word(rng)
    )
}

/// One generated post or episode, before it is written in a feed's format.
struct GenItem {
    title: String,
    slug: String,
    subtitle: String,
    html: String,
    published: DateTime<Utc>,
    seq: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Substack,
    Atom,
    Podcast,
    /// An aggregator reposting another feed's posts.
    Mirror,
}

fn kind_of(i: usize) -> Kind {
    if i % 10 == 9 {
        Kind::Mirror
    } else {
        match i % 4 {
            0 | 1 => Kind::Substack,
            2 => Kind::Atom,
            _ => Kind::Podcast,
        }
    }
}

fn name_of(i: usize) -> String {
    let kind = match kind_of(i) {
        Kind::Substack => "substack",
        Kind::Atom => "blog",
        Kind::Podcast => "podcast",
        Kind::Mirror => "aggregator",
    };
    format!("{kind}-{i:05}")
}

fn domain_of(i: usize) -> String {
    match kind_of(i) {
        Kind::Substack => format!("writer{i}.substack.com"),
        Kind::Atom => format!("blog{i}.example.org"),
        Kind::Podcast => format!("show{i}.example.fm"),
        Kind::Mirror => format!("aggregator{i}.example.net"),
    }
}

fn file_of(i: usize) -> String {
    let ext = match kind_of(i) {
        Kind::Atom => "atom",
        _ => "rss",
    };
    format!("f/{i:05}.{ext}")
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn gen_item(feed: usize, seq: u64) -> GenItem {
    let mut rng = Rng::seeded(feed as u64 + 1, seq + 1);
    let domain = domain_of(feed);
    let title_words: Vec<String> = (0..rng.range(4, 9)).map(|_| word(&mut rng)).collect();
    let mut title = capitalised(&title_words.join(" "));
    if rng.below(5) == 0 {
        title = format!("{title}: {}", capitalised(&word(&mut rng)));
    }
    let slug = title_words.join("-");
    let subtitle = {
        // Subtitles are plain text.
        let mut s = String::new();
        sentence(&mut rng, &mut s, None);
        s
    };
    // The last block overshoots, and the item's own markup adds some: 2-5 KB in the feed.
    let target = rng.range(1_400, 3_600);
    let mut html = String::new();
    let mut block = 0;
    while html.len() < target {
        match (kind_of(feed), block % 7) {
            (Kind::Substack, 1) if block < 7 => html.push_str(&substack_image(&mut rng)),
            (_, 3) => {
                let _ = write!(html, "<h2>{}</h2>", capitalised(&word(&mut rng)));
                html.push_str(&paragraph(&mut rng, &domain));
            }
            (_, 5) => {
                let _ = write!(
                    html,
                    "<blockquote>{}</blockquote>",
                    paragraph(&mut rng, &domain)
                );
            }
            (_, 6) => {
                html.push_str("<ul>");
                for _ in 0..rng.range(2, 4) {
                    let mut li = String::new();
                    sentence(&mut rng, &mut li, Some(&domain));
                    let _ = write!(html, "<li>{li}</li>");
                }
                html.push_str("</ul>");
            }
            _ => html.push_str(&paragraph(&mut rng, &domain)),
        }
        block += 1;
    }
    let published = base_time()
        + chrono::Duration::hours(36 * i64::try_from(seq).expect("a generated sequence number"))
        + chrono::Duration::minutes(
            i64::try_from(feed % 1_000 + rng.below(120)).expect("under 1120 minutes"),
        );
    GenItem {
        title,
        slug,
        subtitle,
        html,
        published,
        seq,
    }
}

/// The feed a mirror reposts.
fn mirrored(i: usize) -> usize {
    i - 1
}

/// A mirror's copy of an origin item: the same text, cut at a paragraph, under the
/// aggregator's own title suffix; half the aggregators link to the original (tracking
/// parameters added), half to their own page.
fn mirror_item(mirror: usize, seq: u64) -> (GenItem, String) {
    let origin = mirrored(mirror);
    let mut item = gen_item(origin, seq);
    let cut = item
        .html
        .match_indices("</p>")
        .map(|(at, _)| at + 4)
        .find(|&at| at >= item.html.len() * 3 / 5)
        .unwrap_or(item.html.len());
    item.html.truncate(cut);
    item.html
        .push_str("<p><em>Read the full post at the source.</em></p>");
    item.title = format!("{} | Aggregator {mirror}", item.title);
    item.published += chrono::Duration::hours(3);
    let link = if (mirror / 10) % 2 == 0 {
        format!(
            "https://{}/p/{}?utm_source=aggregator{mirror}",
            domain_of(origin),
            item.slug
        )
    } else {
        format!("https://{}/story/{}", domain_of(mirror), item.slug)
    };
    (item, link)
}

fn rfc822(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Escapes text for XML character data and attribute values.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The feed `i` at `version`: items `version .. version + 20`, newest first.
fn render_feed(i: usize, version: u64, self_url: &str) -> String {
    let seqs: Vec<u64> = (version..version + ITEMS_PER_FEED).rev().collect();
    let domain = domain_of(i);
    let author = capitalised(&rare_word(i % 8_000));
    let title = format!("{} {}", capitalised(&rare_word((i * 7) % 8_000)), i);
    let newest = gen_item(i, version + ITEMS_PER_FEED - 1).published;
    let mut out = String::with_capacity(100_000);
    match kind_of(i) {
        Kind::Substack => {
            let _ = writeln!(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
                 xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:atom=\"http://www.w3.org/2005/Atom\" \
                 version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\" \
                 xmlns:googleplay=\"http://www.google.com/schemas/play-podcasts/1.0\"><channel>\
                 <title><![CDATA[{title}]]></title><description><![CDATA[Essays on {} and {}]]></description>\
                 <link>https://{domain}</link><image><url>https://substackcdn.com/image/fetch/w_256,c_limit,f_auto,q_auto:good,fl_progressive:steep/https%3A%2F%2Fsubstack-post-media.s3.amazonaws.com%2Fpublic%2Fimages%2F{i}.png</url>\
                 <title>{title}</title><link>https://{domain}</link></image><generator>Substack</generator>\
                 <lastBuildDate>{}</lastBuildDate><atom:link href=\"{self_url}\" rel=\"self\" type=\"application/rss+xml\"/>\
                 <copyright><![CDATA[{author}]]></copyright><language><![CDATA[en]]></language>\
                 <webMaster><![CDATA[writer{i}@substack.com]]></webMaster><itunes:owner><itunes:email><![CDATA[writer{i}@substack.com]]></itunes:email>\
                 <itunes:name><![CDATA[{author}]]></itunes:name></itunes:owner><itunes:author><![CDATA[{author}]]></itunes:author>\
                 <googleplay:owner><![CDATA[writer{i}@substack.com]]></googleplay:owner><googleplay:email><![CDATA[writer{i}@substack.com]]></googleplay:email>\
                 <googleplay:author><![CDATA[{author}]]></googleplay:author><itunes:block><![CDATA[Yes]]></itunes:block>",
                rare_word(i % 97),
                rare_word(i % 89),
                rfc822(newest)
            );
            for seq in seqs {
                let item = gen_item(i, seq);
                let link = format!("https://{domain}/p/{}", item.slug);
                let _ = writeln!(
                    out,
                    "<item><title><![CDATA[{}]]></title><description><![CDATA[{}]]></description>\
                     <link>{link}</link><guid isPermaLink=\"false\">{link}</guid>\
                     <dc:creator><![CDATA[{author}]]></dc:creator><pubDate>{}</pubDate>\
                     <enclosure url=\"https://substack-post-media.s3.amazonaws.com/public/images/{:x}_1456x816.png\" length=\"0\" type=\"image/jpeg\"/>\
                     <content:encoded><![CDATA[{}]]></content:encoded></item>",
                    item.title,
                    item.subtitle,
                    rfc822(item.published),
                    item.seq * 7919 + i as u64,
                    item.html
                );
            }
            out.push_str("</channel></rss>\n");
        }
        Kind::Atom => {
            let _ = write!(
                out,
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\
                 <title>{}</title><subtitle>Notes on {}</subtitle>\
                 <link href=\"https://{domain}/\" rel=\"alternate\" type=\"text/html\"/>\
                 <link href=\"{self_url}\" rel=\"self\" type=\"application/atom+xml\"/>\
                 <id>https://{domain}/</id><updated>{}</updated><author><name>{author}</name></author>\
                 <generator uri=\"https://gohugo.io/\" version=\"0.139.0\">Hugo</generator>\n",
                esc(&title),
                rare_word(i % 97),
                rfc3339(newest)
            );
            for seq in seqs {
                let item = gen_item(i, seq);
                let link = format!("https://{domain}/posts/{}/", item.slug);
                // Relative links, resolved against xml:base, as static-site generators write.
                let html = item
                    .html
                    .replace(&format!("href=\"https://{domain}/"), "href=\"/");
                let _ = writeln!(
                    out,
                    "<entry><title type=\"html\">{}</title>\
                     <link href=\"{link}\" rel=\"alternate\" type=\"text/html\"/>\
                     <id>tag:{domain},2025:/posts/{}</id><published>{}</published><updated>{}</updated>\
                     <author><name>{author}</name></author><category term=\"{}\"/><category term=\"{}\"/>\
                     <summary type=\"html\">{}</summary>\
                     <content type=\"html\" xml:base=\"{link}\">{}</content></entry>",
                    esc(&item.title),
                    item.slug,
                    rfc3339(item.published),
                    rfc3339(item.published),
                    rare_word((seq % 50) as usize),
                    COMMON[usize::try_from(seq % COMMON.len() as u64).expect("below its length")],
                    esc(&format!("<p>{}</p>", item.subtitle)),
                    esc(&html)
                );
            }
            out.push_str("</feed>\n");
        }
        Kind::Podcast => {
            let _ = write!(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" \
                 xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\" \
                 xmlns:podcast=\"https://podcastindex.org/namespace/1.0\" \
                 xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" \
                 xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel>\
                 <atom:link href=\"{self_url}\" rel=\"self\" type=\"application/rss+xml\"/>\
                 <title>{}</title><link>https://{domain}/</link><language>en-us</language>\
                 <copyright>{author}</copyright><description>Conversations about {}.</description>\
                 <itunes:author>{author}</itunes:author><itunes:type>episodic</itunes:type>\
                 <itunes:image href=\"https://media.example.fm/{i}/cover.jpg\"/>\
                 <itunes:category text=\"Technology\"/><itunes:explicit>false</itunes:explicit>\
                 <podcast:guid>{}</podcast:guid><podcast:locked>no</podcast:locked>\n",
                esc(&title),
                rare_word(i % 97),
                Rng::seeded(i as u64, 0).hex(32),
            );
            for seq in seqs {
                let item = gen_item(i, seq);
                let mut rng = Rng::seeded(i as u64 + 7, seq);
                let link = format!("https://{domain}/episodes/{}", item.slug);
                let minutes = rng.range(20, 110);
                // Show notes: the text, then the chapter list.
                let mut notes = item.html.clone();
                notes.push_str("<p>Chapters:</p><ul>");
                for c in 0..rng.range(4, 8) {
                    let _ = write!(
                        notes,
                        "<li>({:02}:{:02}) {}</li>",
                        c * 9,
                        rng.below(60),
                        capitalised(&word(&mut rng))
                    );
                }
                notes.push_str("</ul>");
                let _ = writeln!(
                    out,
                    "<item><title>Ep. {}: {}</title><guid isPermaLink=\"false\">{}</guid>\
                     <pubDate>{}</pubDate><link>{link}</link>\
                     <enclosure url=\"https://media.example.fm/{i}/{}.mp3\" length=\"{}\" type=\"audio/mpeg\"/>\
                     <itunes:duration>{:02}:{:02}:{:02}</itunes:duration><itunes:episode>{}</itunes:episode>\
                     <itunes:episodeType>full</itunes:episodeType><itunes:explicit>false</itunes:explicit>\
                     <itunes:image href=\"https://media.example.fm/{i}/{}.jpg\"/>\
                     <itunes:summary>{}</itunes:summary>\
                     <description><![CDATA[{notes}]]></description></item>",
                    seq + 1,
                    esc(&item.title),
                    Rng::seeded(i as u64 + 3, seq).hex(32),
                    rfc822(item.published),
                    item.slug,
                    minutes * 60 * 16_000,
                    minutes / 60,
                    minutes % 60,
                    rng.below(60),
                    seq + 1,
                    item.slug,
                    esc(&item.subtitle),
                );
            }
            out.push_str("</channel></rss>\n");
        }
        Kind::Mirror => {
            let _ = write!(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" \
                 xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel><title>{}</title>\
                 <link>https://{domain}/</link><description>The best of the week, reposted.</description>\
                 <atom:link href=\"{self_url}\" rel=\"self\" type=\"application/rss+xml\"/>\
                 <language>en</language><ttl>60</ttl>\n",
                esc(&format!("Aggregator {i}"))
            );
            for seq in seqs {
                let (item, link) = mirror_item(i, seq);
                let _ = writeln!(
                    out,
                    "<item><title>{}</title><link>{}</link><guid isPermaLink=\"false\">aggregator{i}-{}</guid>\
                     <pubDate>{}</pubDate><description>{}</description></item>",
                    esc(&item.title),
                    esc(&link),
                    item.seq,
                    rfc822(item.published),
                    esc(&item.html)
                );
            }
            out.push_str("</channel></rss>\n");
        }
    }
    out
}

fn generate(dir: &Path, feeds: usize, bases: &[String]) {
    let started = Instant::now();
    std::fs::create_dir_all(dir.join("f")).expect("create the feed directory");
    let mut tsv = String::new();
    let mut toml = String::new();
    let mut opml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\" \
         xmlns:tributary=\"urn:tributary:opml\">\n<head><title>benchmark</title></head>\n<body>\n",
    );
    let mut bytes = 0usize;
    for i in 0..feeds {
        let base = bases[i % bases.len()].trim_end_matches('/');
        let url = format!("{base}/{}", file_of(i));
        let text = render_feed(i, 0, &url);
        bytes += text.len();
        std::fs::write(dir.join(file_of(i)), text).expect("write feed");
        let role = if kind_of(i) == Kind::Mirror {
            "mirror"
        } else {
            "origin"
        };
        let _ = writeln!(tsv, "{}\t{url}\t{role}\t{}", name_of(i), file_of(i));
        let _ = writeln!(
            toml,
            "[[feeds]]\nname = \"{}\"\nurl = \"{url}\"\nrole = \"{role}\"\n",
            name_of(i)
        );
        // Names and URLs are plain ASCII without markup characters: nothing to escape.
        let _ = writeln!(
            opml,
            "<outline type=\"rss\" text=\"{0}\" title=\"{0}\" xmlUrl=\"{url}\" tributary:role=\"{role}\"/>",
            name_of(i)
        );
    }
    opml.push_str("</body>\n</opml>\n");
    std::fs::write(dir.join("feeds.tsv"), tsv).expect("write feeds.tsv");
    std::fs::write(dir.join("feeds.toml"), toml).expect("write feeds.toml");
    std::fs::write(dir.join("feeds.opml"), opml).expect("write feeds.opml");
    std::fs::write(dir.join("versions"), "0\n".repeat(feeds)).expect("write versions");
    println!(
        "generated {feeds} feeds ({:.1} MB, {:.0} KB per feed on average) in {:.1}s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e3 / feeds.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
}

fn mutate(dir: &Path, fraction: f64, round: usize, edit: bool) {
    let rows = read_rows(dir);
    let versions_path = dir.join("versions");
    let mut versions: Vec<u64> = std::fs::read_to_string(&versions_path)
        .expect("versions (run generate)")
        .lines()
        .map(|l| l.parse().expect("a version number"))
        .collect();
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the step is at least 1, and `as` saturates a huge one"
    )]
    let step = (1.0 / fraction).round().max(1.0) as usize;
    let mut changed = 0;
    for (i, row) in rows.iter().enumerate() {
        // A different tenth of the feeds each round, one of each run of `step` feeds, at a
        // place in the run that moves from run to run: every kind of feed changes in every
        // round (the generator's kinds repeat every ten feeds, so `i % step` alone would
        // change one kind per round, and the aggregators' mirrors only every tenth round).
        if (i / step + i + round * 3) % step != 0 {
            continue;
        }
        let feed = if edit {
            edited(&render_feed(i, versions[i], &row.url), round)
        } else {
            versions[i] += 1;
            render_feed(i, versions[i], &row.url)
        };
        let old = std::fs::metadata(&row.file)
            .and_then(|m| m.modified())
            .expect("feed file mtime");
        std::fs::write(&row.file, feed).expect("rewrite feed");
        // nginx's ETag is mtime and size: make sure the mtime moves by a whole second.
        let mtime = SystemTime::now().max(old + Duration::from_secs(1));
        std::fs::File::options()
            .write(true)
            .open(&row.file)
            .and_then(|f| f.set_modified(mtime))
            .expect("set mtime");
        changed += 1;
    }
    let text: String = versions.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(&versions_path, text).expect("write versions");
    let what = if edit { "edited" } else { "mutated" };
    println!("{what} {changed} of {} feeds (round {round})", rows.len());
}

/// A rendered feed with its newest item's title edited: "Revised N: " put in front of it,
/// whatever the feed's kind (the first item or entry of a rendered feed is its newest).
fn edited(feed: &str, round: usize) -> String {
    let item = feed
        .find("<item>")
        .or_else(|| feed.find("<entry>"))
        .expect("a rendered feed has items");
    let title = item + feed[item..].find("<title").expect("an item has a title");
    let text = title + feed[title..].find('>').expect("the title tag closes") + 1;
    format!("{}Revised {round}: {}", &feed[..text], &feed[text..])
}
