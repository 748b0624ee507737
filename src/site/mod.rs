//! The site: a small read-only web view of what tributary decided, served by the daemon next to
//! the feeds. `/` shows the newest stories with their members and audio, `/stories/{number}`
//! explains one story (evidence, scores, thresholds, the commands that would correct it),
//! `/feeds` shows each feed's health, failing first, and `/deliveries` the outbox per sink.
//!
//! Design decision: pages are rendered per request from the database, on connections opened
//! read-only, rather than published with the feeds' snapshot: a page number or a story number
//! can name any of a hundred thousand stories, and feed health changes between cycles. Every
//! read loads only what its page shows (see `store::SiteReader`), so a page costs the same
//! whatever the store holds. The templates are `maud` markup, checked at compile time, and
//! every value from a feed passes through its escaping; links leave the page only when they
//! are http(s). The pages need no JavaScript, and their Content-Security-Policy forbids any,
//! so markup that slipped past every sanitiser still could not run.

mod pages;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use thiserror::Error;
use url::Url;

use crate::config::Config;
use crate::dedupe::Thresholds;
use crate::serve::{AppState, Document, document_response};
use crate::store::{PageStart, SiteReader, SourceRecord, StorageTarget, StoreError};

pub const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";
pub const CSS_CONTENT_TYPE: &str = "text/css; charset=utf-8";

/// Stories on one page of `/`.
pub const STORIES_PER_PAGE: usize = 50;

/// Dead deliveries listed per sink: the newest say what is wrong now; the count says how many.
const DEAD_SHOWN: usize = 20;

/// Read connections kept open between requests; more concurrent requests open their own.
const IDLE_READERS: usize = 2;

/// No script, frame, form or plugin may run or load; styles come only from the site's own
/// stylesheet, and audio from wherever a feed's episode lives.
const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; style-src 'self'; \
     media-src http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Pages show what the last cycle stored, which can change any minute; with `no-cache` a
/// browser asks again each time, and the ETag turns an unchanged page into a 304.
const PAGE_CACHE_CONTROL: &str = "no-cache";

const STYLESHEET: &str = include_str!("site.css");

/// What the pages need from the configuration. Replaced on SIGHUP with the config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The merged feed's title, which names the site too.
    pub title: String,
    /// Where the site is reached (`[server] base_url`): the feeds' links are built from it,
    /// never from a request's Host header.
    pub base_url: Url,
    pub thresholds: Thresholds,
    /// The configured feeds, by name: a feed removed from the config keeps its stored row,
    /// but its health is no longer news.
    pub feeds: Vec<String>,
    /// The configured sinks: (name, kind).
    pub sinks: Vec<(String, String)>,
    /// The config file the daemon runs with, for the correction commands to name; `None`
    /// for the built-in configuration.
    pub config_path: Option<PathBuf>,
}

impl Default for Settings {
    /// What the site shows until the daemon hands it its config: the built-in defaults.
    fn default() -> Settings {
        Settings {
            title: "tributary".to_owned(),
            base_url: Url::parse("http://127.0.0.1:8088/").expect("a valid constant URL"),
            thresholds: Thresholds::default(),
            feeds: Vec::new(),
            sinks: Vec::new(),
            config_path: None,
        }
    }
}

impl Settings {
    pub fn from_config(config: &Config, config_path: Option<&Path>) -> Settings {
        Settings {
            title: config.output.title.clone(),
            base_url: config.server.base_url.clone(),
            thresholds: config.dedupe.clone(),
            feeds: config.feeds.iter().map(|feed| feed.name.clone()).collect(),
            sinks: config
                .notify
                .iter()
                .map(|sink| (sink.name.clone(), format!("{:?}", sink.kind).to_lowercase()))
                .collect(),
            // The command is run from wherever its reader's shell is: name the file absolutely.
            config_path: config_path.map(|path| std::path::absolute(path).unwrap_or(path.into())),
        }
    }

    /// The path the site lives under (`/`, or `/tributary/` behind a proxy), with its slash.
    fn root(&self) -> &str {
        self.base_url.path()
    }

    /// An absolute link to one of the served documents.
    fn document_url(&self, name: &str) -> String {
        self.base_url
            .join(name)
            .map_or_else(|_| format!("{}{name}", self.root()), String::from)
    }
}

/// The site's share of the server's state: its settings and its idle read connections.
pub struct Site {
    database: StorageTarget,
    settings: RwLock<Arc<Settings>>,
    idle: Mutex<Vec<SiteReader>>,
}

impl Site {
    /// The site of the store at `database`, with `settings` until the daemon sets its own.
    pub fn new(database: impl Into<StorageTarget>, settings: Settings) -> Site {
        Site {
            database: database.into(),
            settings: RwLock::new(Arc::new(settings)),
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn set_settings(&self, settings: Settings) {
        *self.settings.write() = Arc::new(settings);
    }

    fn settings(&self) -> Arc<Settings> {
        Arc::clone(&self.settings.read())
    }

    /// Runs `read` on an idle connection, or a new one. A connection whose read failed is
    /// closed rather than kept: whatever went wrong may have left it unusable.
    fn with_reader<T>(
        &self,
        read: impl FnOnce(&mut SiteReader) -> Result<T, SiteError>,
    ) -> Result<T, SiteError> {
        let idle = self.idle.lock().pop();
        let mut reader = match idle {
            Some(reader) => reader,
            None => SiteReader::open(self.database.clone())?,
        };
        let result = read(&mut reader);
        if result.is_ok() {
            let mut idle = self.idle.lock();
            if idle.len() < IDLE_READERS {
                idle.push(reader);
            }
        }
        result
    }
}

/// Why a page cannot be shown. The messages are shown to whoever asks, so a database error is
/// logged in full and shown without the database's path.
#[derive(Debug, Error)]
pub enum SiteError {
    #[error("`{0}` is not a page number (pages are numbered from 1)")]
    BadPage(String),
    #[error("page {0} is past the oldest story")]
    NoSuchPage(usize),
    #[error("`{0}` is not a story number")]
    BadStory(String),
    #[error("no story {0}")]
    NoStory(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the page could not be rendered")]
    Crashed,
}

impl SiteError {
    fn status(&self) -> StatusCode {
        match self {
            SiteError::BadPage(_) => StatusCode::BAD_REQUEST,
            SiteError::NoSuchPage(_) | SiteError::BadStory(_) | SiteError::NoStory(_) => {
                StatusCode::NOT_FOUND
            }
            SiteError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            SiteError::Crashed => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the visitor is told.
    fn public_message(&self) -> String {
        match self {
            SiteError::Store(_) => "The database does not answer just now; try again soon.".into(),
            other => format!("{}.", capitalised(&other.to_string())),
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The site's routes, merged into the server's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/stories/{number}", get(story))
        .route("/feeds", get(feeds))
        .route("/deliveries", get(deliveries))
        .route("/site.css", get(stylesheet))
}

async fn index(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    request: HeaderMap,
) -> Response {
    let page = page_query(query.as_deref());
    render(&state, &request, move |reader, settings| {
        let (page, after) = page?;
        index_page(reader, settings, page, after)
    })
    .await
}

/// Page `page` (from 1) of `/`: the newest stories, [`STORIES_PER_PAGE`] to a page; with
/// `after`, the stories right after that story, which the link to the next page names so
/// that reaching it costs the same at any depth.
pub fn index_page(
    reader: &mut SiteReader,
    settings: &Settings,
    page: usize,
    after: Option<i64>,
) -> Result<maud::Markup, SiteError> {
    let start = match after {
        Some(story) => PageStart::After(story),
        None => PageStart::Offset(page.saturating_sub(1).saturating_mul(STORIES_PER_PAGE)),
    };
    let stories = reader.story_page(start, STORIES_PER_PAGE)?;
    if page > 1 && stories.stories.is_empty() {
        return Err(SiteError::NoSuchPage(page));
    }
    Ok(pages::index(settings, &stories, page))
}

async fn story(
    State(state): State<AppState>,
    UrlPath(number): UrlPath<String>,
    request: HeaderMap,
) -> Response {
    render(&state, &request, move |reader, settings| {
        let parsed = number
            .parse::<i64>()
            .map_err(|_| SiteError::BadStory(number.clone()))?;
        explain_page(reader, settings, parsed)
    })
    .await
}

/// `/stories/{number}`: why the story's members are one work, and how to correct it.
pub fn explain_page(
    reader: &mut SiteReader,
    settings: &Settings,
    number: i64,
) -> Result<maud::Markup, SiteError> {
    let story = reader.explain(number)?.ok_or(SiteError::NoStory(number))?;
    Ok(pages::explain(settings, &story))
}

async fn feeds(State(state): State<AppState>, request: HeaderMap) -> Response {
    let now = state.now();
    render(&state, &request, move |reader, settings| {
        let mut rows: Vec<(FeedStatus, SourceRecord)> = reader
            .feeds()?
            .into_iter()
            .filter(|source| settings.feeds.is_empty() || settings.feeds.contains(&source.name))
            .map(|source| (FeedStatus::of(&source, now), source))
            .collect();
        // Trouble first; within a status, by name.
        rows.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.name.cmp(&y.name)));
        Ok(pages::feeds(settings, &rows))
    })
    .await
}

async fn deliveries(State(state): State<AppState>, request: HeaderMap) -> Response {
    render(&state, &request, move |reader, settings| {
        let mut sinks = reader.deliveries(DEAD_SHOWN)?;
        // A configured sink with nothing queued yet still has a row.
        for (name, _) in &settings.sinks {
            if !sinks.iter().any(|sink| &sink.sink == name) {
                sinks.push(crate::store::SinkDeliveries {
                    sink: name.clone(),
                    pending: 0,
                    delivered: 0,
                    dead: 0,
                    dead_recent: Vec::new(),
                });
            }
        }
        sinks.sort_by(|a, b| a.sink.cmp(&b.sink));
        Ok(pages::deliveries(settings, &sinks))
    })
    .await
}

async fn stylesheet(State(state): State<AppState>, request: HeaderMap) -> Response {
    // The stylesheet is part of the binary: it last changed, as far as this process can
    // tell, when the process first served it.
    static STARTED: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    let now = state.now();
    let document = Document::new(STYLESHEET, *STARTED.get_or_init(|| now));
    document_response(&document, CSS_CONTENT_TYPE, &request, now)
}

/// Reads and renders a page off the async runtime (SQLite blocks), then answers it with an
/// ETag derived from its bytes, or 304 when the client holds those bytes already.
async fn render(
    state: &AppState,
    request: &HeaderMap,
    page: impl FnOnce(&mut SiteReader, &Settings) -> Result<maud::Markup, SiteError> + Send + 'static,
) -> Response {
    let site = Arc::clone(state.site());
    let now = state.now();
    let settings = site.settings();
    let for_page = Arc::clone(&settings);
    let rendered =
        tokio::task::spawn_blocking(move || site.with_reader(|reader| page(reader, &for_page)))
            .await
            .unwrap_or(Err(SiteError::Crashed));
    let mut response = match rendered {
        Ok(markup) => {
            // Last-Modified is the time of rendering: nothing cheaper knows when the rows a
            // page shows last changed, and a date too late only costs a client a full answer
            // (the ETag still gets it a 304), where one too early would be a wrong 304.
            let document = Document::new(markup.into_string(), now);
            let mut response = document_response(&document, HTML_CONTENT_TYPE, request, now);
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static(PAGE_CACHE_CONTROL));
            response
        }
        Err(error) => {
            if let SiteError::Store(source) = &error {
                tracing::warn!(error = %source, "a page could not read the database");
            }
            let body = pages::error(&settings, &error.public_message());
            (
                error.status(),
                [
                    (CONTENT_TYPE, HTML_CONTENT_TYPE),
                    (CACHE_CONTROL, "no-store"),
                ],
                body.into_string(),
            )
                .into_response()
        }
    };
    response.headers_mut().insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    response
}

/// The page `?page=` asks for (1 without one), and the story `&after=` says it follows.
/// Other parameters are ignored, as links from elsewhere may carry them.
fn page_query(query: Option<&str>) -> Result<(usize, Option<i64>), SiteError> {
    let mut page = 1;
    let mut after = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "page" => {
                page = value
                    .parse::<usize>()
                    .ok()
                    .filter(|page| *page >= 1)
                    .ok_or_else(|| SiteError::BadPage(value.into_owned()))?;
            }
            "after" => {
                after = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SiteError::BadStory(value.into_owned()))?,
                );
            }
            _ => {}
        }
    }
    Ok((page, after))
}

/// A feed's health in one word, in the order `/feeds` lists them: trouble first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FeedStatus {
    /// Its last poll failed.
    Failing,
    /// The server answered 429 or 503: it is not asked again before its Retry-After.
    BackingOff,
    /// 410 Gone: never asked again until its URL changes.
    Gone,
    NeverPolled,
    /// It answered, from the address it moved to permanently.
    Moved,
    Ok,
    /// It answered 304: nothing new.
    NotModified,
}

impl FeedStatus {
    pub fn of(source: &SourceRecord, now: DateTime<Utc>) -> FeedStatus {
        let state = &source.state;
        if state.gone {
            return FeedStatus::Gone;
        }
        match state.last_status.as_deref() {
            None => FeedStatus::NeverPolled,
            Some("rate limited") if state.retry_after.is_none_or(|until| until > now) => {
                FeedStatus::BackingOff
            }
            Some(_) if state.consecutive_errors > 0 => FeedStatus::Failing,
            Some(_) if state.moved_to.is_some() => FeedStatus::Moved,
            Some("not modified") => FeedStatus::NotModified,
            Some(_) => FeedStatus::Ok,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FeedStatus::Failing => "failing",
            FeedStatus::BackingOff => "backing off",
            FeedStatus::Gone => "gone",
            FeedStatus::NeverPolled => "never polled",
            FeedStatus::Moved => "moved",
            FeedStatus::Ok => "ok",
            FeedStatus::NotModified => "not modified",
        }
    }

    /// Whether the row is shown as a problem.
    fn is_trouble(self) -> bool {
        matches!(
            self,
            FeedStatus::Failing | FeedStatus::BackingOff | FeedStatus::Gone
        )
    }
}

/// `text` if it is an absolute http(s) URL: the only links the pages make. A feed's link to
/// anything else (`javascript:`, `data:`, a relative path) is shown as text, not followed.
fn web_link(text: &str) -> Option<String> {
    let url = Url::parse(text).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.into())
}

/// `word` as one shell word: as it is when that is safe, else single-quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:=@".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests;
