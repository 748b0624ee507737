//! The site, in a real browser: the real daemon on local feeds, each page loaded by headless
//! Chromium (`--dump-dom`), and the rendered DOM read back. Without `chromium` on the PATH the
//! browser steps print "skipped" (the HTTP checks still run), unless
//! `TRIBUTARY_REQUIRE_BROWSER=1`, which CI sets.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::binary::{Workspace, assert_success, stdout};
use crate::common::daemon::{Daemon, free_port};
use crate::common::fixture;
use crate::common::server::{Reply, TestServer};

/// Headless Chromium, if installed (or a skip note, or a failure when it is required).
struct Browser {
    binary: PathBuf,
    profile: tempfile::TempDir,
}

impl Browser {
    fn find() -> Option<Browser> {
        let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|path| path.is_file())
            })
        });
        let Some(binary) = found else {
            assert!(
                std::env::var("TRIBUTARY_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "TRIBUTARY_REQUIRE_BROWSER=1 but chromium is not on the PATH"
            );
            eprintln!("skipped: chromium is not installed; the browser checks did not run");
            return None;
        };
        Some(Browser {
            binary,
            profile: tempfile::tempdir().expect("profile directory"),
        })
    }

    /// Runs Chromium headless with `args` then `url`, and returns its stdout.
    fn run(&self, args: &[&str], url: &str) -> String {
        let mut command = Command::new(&self.binary);
        command
            .args(["--headless", "--disable-gpu", "--no-first-run"])
            .arg(format!("--user-data-dir={}", self.profile.path().display()))
            .args(args)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // Chromium's sandbox cannot start as root (CI containers run as root).
        if is_root() {
            command.arg("--no-sandbox");
        }
        let mut child = command.spawn().expect("start chromium");
        let started = Instant::now();
        loop {
            if child.try_wait().expect("wait for chromium").is_some() {
                break;
            }
            if started.elapsed() > Duration::from_secs(90) {
                let _ = child.kill();
                panic!("chromium did not finish loading {url} within 90 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().expect("chromium output");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The DOM of `url` once loaded, serialised.
    fn dom(&self, url: &str) -> Dom {
        let html = self.run(&["--dump-dom"], url);
        assert!(html.contains("</html>"), "no DOM for {url}: {html}");
        Dom::parse(&html)
    }

    /// A phone-sized screenshot of `url`, saved at `path`.
    fn screenshot(&self, url: &str, path: &Path) {
        self.run(
            &[
                &format!("--screenshot={}", path.display()),
                "--window-size=412,1400",
                "--hide-scrollbars",
            ],
            url,
        );
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1_000, "no screenshot of {url} at {}", path.display());
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// One start tag of the serialised DOM.
#[derive(Debug)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
}

impl Element {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A serialised DOM read back: every start tag with its attributes, and the text. A DOM
/// serialisation is regular enough for this: text and attribute values have `<`, `>`, `&` and
/// `"` escaped, and every attribute value is double-quoted.
struct Dom {
    html: String,
    elements: Vec<Element>,
    text: String,
}

impl Dom {
    fn parse(html: &str) -> Dom {
        let mut elements = Vec::new();
        let mut text = String::new();
        let mut rest = html;
        while let Some(open) = rest.find('<') {
            text.push_str(&decode(&rest[..open]));
            text.push(' ');
            rest = &rest[open + 1..];
            if let Some(comment) = rest.strip_prefix("!--") {
                rest = comment.split_once("-->").map_or("", |(_, after)| after);
                continue;
            }
            if rest.starts_with('!') || rest.starts_with('/') {
                rest = rest.split_once('>').map_or("", |(_, after)| after);
                continue;
            }
            let name_end = rest
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(rest.len());
            let mut element = Element {
                name: rest[..name_end].to_ascii_lowercase(),
                attributes: Vec::new(),
            };
            rest = &rest[name_end..];
            loop {
                rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
                if let Some(after) = rest.strip_prefix('>') {
                    rest = after;
                    break;
                }
                if rest.is_empty() {
                    break;
                }
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '=' || c == '>')
                    .unwrap_or(rest.len());
                let name = rest[..end].to_ascii_lowercase();
                rest = &rest[end..];
                let value = match rest.strip_prefix("=\"") {
                    Some(quoted) => {
                        let (value, after) = quoted.split_once('"').unwrap_or((quoted, ""));
                        rest = after;
                        decode(value)
                    }
                    None => String::new(),
                };
                element.attributes.push((name, value));
            }
            elements.push(element);
        }
        text.push_str(&decode(rest));
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        Dom {
            html: html.to_owned(),
            elements,
            text,
        }
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements.iter().filter(move |e| e.name == name)
    }

    /// Every `<link rel="alternate">` of the head points at the merged feed, Atom and JSON.
    fn assert_feed_links(&self, page: &str) {
        let alternates: Vec<(&str, &str)> = self
            .all("link")
            .filter(|link| link.attribute("rel") == Some("alternate"))
            .map(|link| {
                (
                    link.attribute("type").unwrap_or_default(),
                    link.attribute("href").unwrap_or_default(),
                )
            })
            .collect();
        for (kind, name) in [
            ("application/atom+xml", "feed.atom"),
            ("application/feed+json", "feed.json"),
        ] {
            assert!(
                alternates
                    .iter()
                    .any(|(t, href)| *t == kind && href.ends_with(name)),
                "{page}: no alternate link to {name}: {alternates:?}"
            );
        }
    }

    /// Nothing in the DOM can run script: no element that runs or loads code, no event handler
    /// attribute, no `style` attribute, no URL attribute with a script or data scheme.
    fn assert_harmless(&self, page: &str) {
        const RUNS: &[&str] = &[
            "script", "iframe", "frame", "object", "embed", "base", "form", "svg", "math",
        ];
        const URL_ATTRIBUTES: &[&str] = &[
            "href",
            "src",
            "srcset",
            "action",
            "formaction",
            "xlink:href",
            "data",
            "poster",
            "background",
            "ping",
            "cite",
        ];
        for element in &self.elements {
            assert!(
                !RUNS.contains(&element.name.as_str()),
                "{page}: a <{}> element in the DOM: {element:?}",
                element.name
            );
            if element.name == "meta" {
                assert_eq!(element.attribute("http-equiv"), None, "{page}: {element:?}");
            }
            for (name, value) in &element.attributes {
                assert!(!name.starts_with("on"), "{page}: handler {name}={value:?}");
                assert_ne!(name, "style", "{page}: a style attribute {value:?}");
                if URL_ATTRIBUTES.contains(&name.as_str()) {
                    let squeezed: String = value
                        .chars()
                        .filter(|c| !c.is_whitespace() && !c.is_control())
                        .collect::<String>()
                        .to_ascii_lowercase();
                    assert!(
                        ["javascript:", "vbscript:", "livescript:", "data:"]
                            .iter()
                            .all(|scheme| !squeezed.starts_with(scheme)),
                        "{page}: <{} {name}={value:?}>",
                        element.name
                    );
                    if matches!(name.as_str(), "href" | "src") && element.name != "link" {
                        assert!(
                            squeezed.starts_with("http://")
                                || squeezed.starts_with("https://")
                                || squeezed.starts_with('/'),
                            "{page}: a link that is neither http(s) nor the site's own: {value:?}"
                        );
                    }
                }
            }
        }
    }
}

/// The text of a serialised DOM, its few entities decoded.
fn decode(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// The number of the story titled `title`, from `stories --json` (which reads beside the
/// running daemon: the database is in WAL mode).
fn story_number(ws: &Workspace, config: &Path, title: &str) -> i64 {
    let out = ws.run(&[
        "--config",
        config.to_str().expect("path"),
        "stories",
        "--json",
    ]);
    assert_success(&out);
    stdout(&out)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|story| story["title"] == title)
        .and_then(|story| story["number"].as_i64())
        .unwrap_or_else(|| panic!("no story titled {title:?}:\n{}", stdout(&out)))
}

/// Where a screenshot is kept after the test, to be looked at.
fn artifact(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("site");
    std::fs::create_dir_all(&dir).expect("artifact directory");
    dir.join(name)
}

#[test]
fn the_site_shows_stories_members_audio_feed_health_and_deliveries() {
    let server = TestServer::routes([
        ("/newsletter", Reply::ok(fixture("mirrors/newsletter.xml"))),
        ("/podcast", Reply::ok(fixture("mirrors/podcast.xml"))),
        ("/aggregator", Reply::ok(fixture("mirrors/aggregator.atom"))),
        ("/curation", Reply::ok(fixture("mirrors/curation.xml"))),
        ("/broken", Reply::status(500)),
        ("/gone", Reply::status(410)),
    ]);
    // The sink refuses every delivery for good: they die, and the page shows why.
    let hook = TestServer::start(|_| Reply::status(404).body("no such hook"));
    let ws = Workspace::new();
    let port = free_port();
    let feeds: Vec<(&str, String, &str)> = [
        ("newsletter", "origin"),
        ("podcast", "origin"),
        ("aggregator", "mirror"),
        ("curation", "mirror"),
        ("broken", "origin"),
        ("gone", "mirror"),
    ]
    .iter()
    .map(|(name, role)| (*name, server.url(&format!("/{name}")).to_string(), *role))
    .collect();
    let config = ws.write_config(
        "site.toml",
        &feeds,
        &format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nnotify_backfill = true\n",
            hook.url("/hook")
        ),
    );
    let daemon = Daemon::start(&ws, &config, port);
    daemon.wait_for("a dead delivery", || {
        daemon.get("/deliveries").2.contains("no such hook")
    });
    let title = "Small models, long tails";
    let number = story_number(&ws, &config, title);

    // Over plain HTTP: HTML, an ETag and a 304 as for the feed, a CSP, and 404s that say what.
    let (status, head, body) = daemon.get("/");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        Daemon::header(&head, "content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let csp = Daemon::header(&head, "content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let etag = Daemon::header(&head, "etag").expect("an ETag");
    assert_eq!(daemon.get_with("/", &[("If-None-Match", &etag)]).0, 304);
    assert_eq!(daemon.get("/site.css").0, 200);
    let (status, _, body) = daemon.get("/stories/999999");
    assert_eq!(status, 404);
    assert!(body.contains("No story 999999"), "{body}");
    let (status, _, body) = daemon.get("/?page=zero");
    assert_eq!(status, 400);
    assert!(body.contains("`zero` is not a page number"), "{body}");
    assert_eq!(daemon.get("/?page=2").0, 404, "one page of stories only");

    let Some(browser) = Browser::find() else {
        return;
    };
    for (page, name) in [
        ("/".to_owned(), "index.png"),
        (format!("/stories/{number}"), "story.png"),
        ("/feeds".to_owned(), "feeds.png"),
        ("/deliveries".to_owned(), "deliveries.png"),
    ] {
        let shot = artifact(name);
        browser.screenshot(&daemon.url(&page), &shot);
        eprintln!("screenshot of {page} (phone width): {}", shot.display());
    }

    let index = browser.dom(&daemon.url("/"));
    index.assert_feed_links("/");
    index.assert_harmless("/");
    assert_eq!(index.all("h1").count(), 1);
    assert_eq!(
        index.all("html").next().and_then(|h| h.attribute("lang")),
        Some("en")
    );
    assert!(index.text.contains(title), "{}", index.text);
    let audio: Vec<&Element> = index.all("audio").collect();
    assert_eq!(audio.len(), 1, "one story has an episode: {audio:?}");
    assert_eq!(
        audio[0].attribute("src"),
        Some("https://audio.longtail.example/small-models-long-tails.mp3")
    );
    assert_eq!(audio[0].attribute("preload"), Some("none"));
    assert!(audio[0].attribute("controls").is_some());
    assert!(
        audio[0]
            .attribute("aria-label")
            .is_some_and(|label| label.contains(title)),
        "the player is labelled: {audio:?}"
    );
    for member in [
        r#"<span class="feed">newsletter</span> <span class="role">post</span>"#,
        r#"<span class="feed">podcast</span> <span class="role">episode</span>"#,
        r#"<span class="feed">curation</span> <span class="role">copy</span>"#,
    ] {
        assert!(index.html.contains(member), "{member} in\n{}", index.html);
    }
    assert!(
        index
            .all("a")
            .any(|a| a.attribute("href") == Some(format!("/stories/{number}").as_str())),
        "a link to the story's explain view"
    );

    let explain = browser.dom(&daemon.url(&format!("/stories/{number}")));
    explain.assert_feed_links("/stories");
    explain.assert_harmless("/stories");
    assert_eq!(explain.all("h1").count(), 1);
    for needle in [
        "the same page (canonical URL)",
        "Thresholds in force",
        "3 days",
        "None: the matcher grouped this story on its own.",
        &format!("stories merge {number} OTHER"),
    ] {
        assert!(
            explain.text.contains(needle),
            "{needle} in\n{}",
            explain.text
        );
    }
    let split = format!(
        "tributary --config {} stories split",
        config.to_str().expect("path")
    );
    assert!(
        explain.text.contains(&split),
        "{split} in\n{}",
        explain.text
    );

    let feeds = browser.dom(&daemon.url("/feeds"));
    feeds.assert_feed_links("/feeds");
    feeds.assert_harmless("/feeds");
    let statuses: Vec<&str> = feeds
        .all("tr")
        .filter_map(|row| row.attribute("data-status"))
        .collect();
    assert_eq!(
        statuses,
        ["failing", "gone", "ok", "ok", "ok", "ok"],
        "failing feeds first"
    );
    assert!(feeds.text.contains("HTTP status 500"), "{}", feeds.text);

    let deliveries = browser.dom(&daemon.url("/deliveries"));
    deliveries.assert_feed_links("/deliveries");
    deliveries.assert_harmless("/deliveries");
    assert!(
        deliveries.text.contains("Dead deliveries to hook"),
        "{}",
        deliveries.text
    );
    assert!(
        deliveries.text.contains("no such hook"),
        "{}",
        deliveries.text
    );

    // A correction made with the CLI beside the running daemon shows at once, and the page's
    // ETag moves with it.
    let split = ws.run(&[
        "--config",
        config.to_str().expect("path"),
        "stories",
        "split",
        &curation_item(&ws, &config, title).to_string(),
    ]);
    assert_success(&split);
    assert_ne!(daemon.get_with("/", &[("If-None-Match", &etag)]).0, 304);
    let index = browser.dom(&daemon.url("/"));
    assert!(index.text.contains("corrected by hand"), "{}", index.text);
    let explain = browser.dom(&daemon.url(&format!("/stories/{number}")));
    assert!(
        explain.text.contains("Split by hand: item"),
        "{}",
        explain.text
    );

    let (status, _) = daemon.stop();
    assert!(status.success());
}

/// The item number of the curation site's copy in the story titled `title`.
fn curation_item(ws: &Workspace, config: &Path, title: &str) -> i64 {
    let out = ws.run(&[
        "--config",
        config.to_str().expect("path"),
        "stories",
        "--json",
    ]);
    assert_success(&out);
    stdout(&out)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|story| story["title"] == title)
        .flat_map(|story| story["members"].as_array().cloned().unwrap_or_default())
        .find(|member| member["feed"] == "curation")
        .and_then(|member| member["item"].as_i64())
        .unwrap_or_else(|| panic!("no curation member in {title:?}:\n{}", stdout(&out)))
}

/// Titles that stay markup-looking text after the normaliser (escaped twice in the XML, so
/// they are text, not tags, once parsed), on a post and on an episode whose player is
/// labelled with its title.
fn hostile_titles() -> String {
    const TITLES: [&str; 3] = [
        "Titles &amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; one",
        "Titles &amp;quot;&amp;gt;&amp;lt;img src=x onerror=alert(2)&amp;gt; two",
        "Titles &amp;lt;/title&amp;gt;&amp;lt;svg onload=alert(3)&amp;gt; three",
    ];
    let mut items = String::new();
    for (n, title) in TITLES.iter().enumerate() {
        items.push_str(&format!(
            "<item><title>{title}</title><guid>t-{n}</guid>\
             <link>https://hostile.example/t/{n}</link>\
             <description>&lt;p&gt;{title} in the text&lt;/p&gt;</description>"
        ));
        if n == 1 {
            items.push_str(
                "<enclosure url=\"https://hostile.example/t.mp3?a=&amp;quot;&gt;&lt;script&gt;\" \
                 type=\"audio/mpeg\" length=\"5\"/>",
            );
        }
        items.push_str("</item>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>\
         <title>Titles</title><link>https://hostile.example/</link>{items}</channel></rss>"
    )
}

#[test]
fn xss_vectors_in_titles_and_content_run_nothing_in_the_browser() {
    let server = TestServer::routes([
        ("/vectors", Reply::ok(crate::hostile::obfuscated_vectors())),
        (
            "/json-vectors",
            Reply::ok(crate::hostile::obfuscated_json())
                .header("Content-Type", "application/feed+json"),
        ),
        ("/titles", Reply::ok(hostile_titles())),
    ]);
    let ws = Workspace::new();
    let port = free_port();
    let feeds: Vec<(&str, String, &str)> = ["vectors", "json-vectors", "titles"]
        .iter()
        .map(|name| (*name, server.url(&format!("/{name}")).to_string(), "origin"))
        .collect();
    let config = ws.write_config(
        "site.toml",
        &feeds,
        &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let daemon = Daemon::start(&ws, &config, port);
    let titles = [
        "Titles <script>alert(1)</script> one",
        "Titles \"><img src=x onerror=alert(2)> two",
        "Titles </title><svg onload=alert(3)> three",
    ];
    let mut pages = vec!["/".to_owned(), "/feeds".to_owned()];
    for title in titles.iter().chain(&["Vectors end", "JSON vectors"]) {
        pages.push(format!("/stories/{}", story_number(&ws, &config, title)));
    }
    let (_, _, body) = daemon.get("/");
    assert!(
        body.contains("Titles &lt;script&gt;alert(1)&lt;/script&gt; one"),
        "the title is shown escaped: {body}"
    );

    let Some(browser) = Browser::find() else {
        return;
    };
    for page in &pages {
        let dom = browser.dom(&daemon.url(page));
        dom.assert_harmless(page);
        dom.assert_feed_links(page);
        if page == "/" {
            for title in titles {
                assert!(dom.text.contains(title), "{title} in\n{}", dom.text);
            }
            assert!(
                dom.all("audio").any(|a| a
                    .attribute("aria-label")
                    .is_some_and(|label| label.contains(titles[1]))),
                "the player, labelled with the hostile title as text: {}",
                dom.html
            );
            assert!(
                dom.text.contains("intro"),
                "the vectors' summary: {}",
                dom.text
            );
        }
    }
}
