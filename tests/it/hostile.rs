//! Hostile inputs through the real binary: one good feed plus hostile ones, served from
//! 127.0.0.1, and `tributary poll` (or `run`) over all of them. Every test checks the same
//! contract: exit 0, the good feed's stories are in the merged feed, each hostile feed has a
//! clear error of its own on stderr (`feed NAME failed: ...`), and what is published (the
//! merged Atom feed, `export --format json`, notifications) is well-formed and carries no
//! script, event handler, `javascript:` or `data:` URL.
//!
//! docs/hostile.md has the table of what is tried here and what tributary does with each;
//! `fuzz/` has the fuzz targets, whose oracle (`fuzz/src/oracle.rs`) is compiled in here so
//! that their crash inputs are checked by the same code in CI.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::binary::{Workspace, assert_success, stderr, stdout};
use crate::common::daemon::Daemon;
use crate::common::fixture;
use crate::common::server::{Reply, Request, TestServer};

#[allow(
    dead_code,
    reason = "the fuzz targets use all of the oracle, these tests only part of it"
)]
#[expect(
    clippy::redundant_closure_for_method_calls,
    reason = "the oracle belongs to the fuzz crate, which has its own lint set"
)]
#[path = "../../fuzz/src/oracle.rs"]
mod oracle;

use crate::common::bodies::{MIB, chunked, gzip, gzip_bomb, utf16};

/// The fetch settings of most tests: a short deadline (the slow feeds cost this much) and
/// the 1 MiB cap.
const FETCH: &str = "timeout = \"2s\"\nmax_body = \"1MiB\"";

/// The titles of the good feed (tests/fixtures/mirrors/newsletter.xml).
const GOOD_TITLES: &[&str] = &[
    "Small models, long tails",
    "Latest artifacts (#22): quieter month, sharper tools",
    "Latest artifacts (#21): a crowded spring",
    "Open thread",
];

fn good_feed() -> Vec<u8> {
    fixture("mirrors/newsletter.xml")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A workspace with a config of its own (the shared helper fixes the fetch settings, and some
/// tests need others, or the database somewhere else).
struct Bed {
    ws: Workspace,
    config: PathBuf,
    database: PathBuf,
    atom: PathBuf,
}

impl Bed {
    fn new(feeds: &[(&str, String)], fetch: &str, extra: &str) -> Bed {
        let ws = Workspace::new();
        let (database, atom) = (ws.path("tributary.db"), ws.path("merged.atom"));
        Bed::at(ws, database, atom, feeds, fetch, extra)
    }

    fn at(
        ws: Workspace,
        database: PathBuf,
        atom: PathBuf,
        feeds: &[(&str, String)],
        fetch: &str,
        extra: &str,
    ) -> Bed {
        let config = ws.path("t.toml");
        let bed = Bed {
            ws,
            config,
            database,
            atom,
        };
        bed.rewrite(feeds, fetch, extra);
        bed
    }

    fn rewrite(&self, feeds: &[(&str, String)], fetch: &str, extra: &str) {
        let mut text = format!(
            "[storage]\ndatabase = \"{}\"\n\n[output]\natom_path = \"{}\"\ntitle = \"Hostile\"\n\n\
             [fetch]\n{fetch}\n\n{extra}\n",
            self.database.display(),
            self.atom.display(),
        );
        for (name, url) in feeds {
            text.push_str(&format!(
                "[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\nrole = \"origin\"\n\n"
            ));
        }
        std::fs::write(&self.config, text).expect("write config");
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--config", self.config.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        self.ws.run(&all)
    }

    /// `poll`, which must exit 0; returns (stdout, stderr).
    fn poll(&self) -> (String, String) {
        let output = self.run(&["poll"]);
        assert_success(&output);
        (stdout(&output), stderr(&output))
    }

    /// Checks both published documents and returns the merged feed, parsed.
    fn check_outputs(&self) -> feed_rs::model::Feed {
        let atom = std::fs::read(&self.atom).expect("merged feed written");
        oracle::check_well_formed(&atom);
        let text = String::from_utf8_lossy(&atom);
        assert_harmless_text(&text, "merged.atom");
        let feed = feed_rs::parser::parse(atom.as_slice()).expect("merged feed re-parses");
        for entry in &feed.entries {
            if let Some(title) = &entry.title {
                assert_harmless_text(&title.content, "a merged entry's title");
            }
            let bodies = [
                entry.content.as_ref().and_then(|c| c.body.as_deref()),
                entry.summary.as_ref().map(|s| s.content.as_str()),
            ];
            for html in bodies.into_iter().flatten() {
                oracle::assert_safe_html(html, "the merged Atom feed");
                assert_harmless_text(html, "a merged entry's HTML");
            }
            for link in &entry.links {
                assert_web_url(&link.href, "a merged entry's link");
            }
        }
        validate_rfc4287(&self.atom);

        let export = self.run(&["export", "--format", "json"]);
        assert_success(&export);
        let json: serde_json::Value =
            serde_json::from_slice(&export.stdout).expect("export --format json is JSON");
        for item in json["items"].as_array().expect("items") {
            if let Some(html) = item["content_html"].as_str() {
                oracle::assert_safe_html(html, "the JSON Feed");
            }
            if let Some(url) = item["url"].as_str() {
                assert_web_url(url, "a JSON Feed item's url");
            }
        }
        each_string(&json, &mut |s| assert_harmless_text(s, "the JSON Feed"));
        feed
    }
}

/// The entries' titles.
fn titles(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries
        .iter()
        .filter_map(|e| e.title.as_ref().map(|t| t.content.clone()))
        .collect()
}

fn assert_good_feed_is_in(feed: &feed_rs::model::Feed) {
    let titles = titles(feed);
    for expected in GOOD_TITLES {
        assert!(
            titles.iter().any(|t| t == expected),
            "the good feed's {expected:?} is missing from {titles:#?}"
        );
    }
}

/// Echoes the per-feed failures (shown with `cargo test -- --nocapture`; docs/hostile.md
/// quotes them).
fn show_failures(err: &str) {
    for line in err.lines().filter(|l| l.starts_with("feed ")) {
        eprintln!("{line}");
    }
}

/// The message of `feed NAME failed: MESSAGE` on stderr, which must name every `needle`.
fn assert_failed(err: &str, name: &str, needles: &[&str]) {
    let prefix = format!("feed {name} failed: ");
    let Some(message) = err.lines().find_map(|line| line.strip_prefix(&prefix)) else {
        panic!("no `{prefix}...` line in stderr:\n{err}");
    };
    for needle in needles {
        assert!(
            message.contains(needle),
            "feed {name}: {needle:?} not in {message:?}"
        );
    }
}

fn assert_not_failed(err: &str, name: &str) {
    let prefix = format!("feed {name} failed: ");
    assert!(
        !err.lines().any(|line| line.starts_with(&prefix)),
        "feed {name} should not fail:\n{err}"
    );
}

/// What must appear nowhere in published text, escaped or not: script URLs, `data:` HTML, event
/// handler attributes, and the markers of an expanded entity or a read file.
fn assert_harmless_text(text: &str, what: &str) {
    let lower = text.to_ascii_lowercase();
    // Whitespace and controls inside a scheme are ignored by browsers (`java\tscript:`).
    let squeezed: String = lower
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    for needle in ["javascript:", "vbscript:", "livescript:", "data:text/html"] {
        assert!(
            !squeezed.contains(needle),
            "{needle} in {what}: {}",
            excerpt(text, &lower, needle)
        );
    }
    for needle in [
        "<script",
        "onerror=",
        "onload=",
        "onclick=",
        "onmouseover=",
        "srcdoc=",
        "lollollol",
        "root:x:0:0",
    ] {
        assert!(
            !lower.contains(needle),
            "{needle} in {what}: {}",
            excerpt(text, &lower, needle)
        );
    }
}

fn excerpt(text: &str, lower: &str, needle: &str) -> String {
    let Some(at) = lower.find(needle) else {
        return text.chars().take(200).collect();
    };
    // `lower` is `text` with ASCII case changed, so byte offsets agree.
    let mut start = at.saturating_sub(80);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + 80).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    text[start..end].to_owned()
}

fn assert_web_url(url: &str, what: &str) {
    assert!(
        url.starts_with("http://") || url.starts_with("https://"),
        "{what} is not http(s): {url}"
    );
}

fn each_string(value: &serde_json::Value, check: &mut dyn FnMut(&str)) {
    match value {
        serde_json::Value::String(s) => check(s),
        serde_json::Value::Array(values) => values.iter().for_each(|v| each_string(v, check)),
        serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| {
            check(k);
            each_string(v, check);
        }),
        _ => {}
    }
}

/// Whether a validator may be missing (it may, unless CI says it must not).
fn validator_missing(what: &str) {
    if std::env::var("TRIBUTARY_REQUIRE_VALIDATORS").is_ok_and(|v| v == "1") {
        panic!("{what} is missing and TRIBUTARY_REQUIRE_VALIDATORS=1");
    }
    eprintln!("note: {what} not found; skipped that validation");
}

/// The merged feed against the RFC 4287 RELAX NG schema, with `jing`, as tests/it/emit.rs does.
fn validate_rfc4287(path: &Path) {
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/validators/atom-rfc4287.rng");
    if !schema.is_file() {
        return validator_missing(&format!("{}", schema.display()));
    }
    match Command::new("jing").arg(&schema).arg(path).output() {
        Ok(output) => assert!(
            output.status.success(),
            "jing rejected the merged feed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => validator_missing("jing"),
        Err(e) => panic!("running jing: {e}"),
    }
}

/// An RSS 2.0 document with the given items (raw XML).
fn rss(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel><title>Hostile</title>\
         <link>https://hostile.example/</link>{items}</channel></rss>"
    )
}

// ---------------------------------------------------------------------------------------------
// Markup

/// Billion laughs with external entities (a file, a URL on the test server) and external DTDs
/// (a parameter entity, a SYSTEM identifier), also on the test server.
fn laughs(port: u16) -> String {
    let mut entities = String::from("<!ENTITY lol \"lol\">\n");
    for level in 1..=9 {
        let previous = if level == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", level - 1)
        };
        entities.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">\n",
            format!("&{previous};").repeat(10)
        ));
    }
    format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE rss SYSTEM \"http://127.0.0.1:{port}/external.dtd\" [\n{entities}\
         <!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n\
         <!ENTITY web SYSTEM \"http://127.0.0.1:{port}/xxe\">\n\
         <!ENTITY % remote SYSTEM \"http://127.0.0.1:{port}/param.dtd\">\n%remote;\n]>\n\
         <rss version=\"2.0\"><channel><title>Laughs &lol9;</title>\
         <item><title>Boom &lol9;</title><guid>laughs-1</guid>\
         <description>file: &xxe; web: &web; end</description></item></channel></rss>"
    )
}

/// Titles that try to end the element, the CDATA section or the entry they are written into,
/// and control characters XML cannot carry at all.
fn breakout_titles() -> String {
    rss(
        "<item><title>One ]]&gt; two &lt;/title&gt;&lt;entry&gt;&lt;id&gt;urn:evil&lt;/id&gt; \
         three &#x1;&#x8;&#xB;&#x1F; four</title><guid>breakout-1</guid>\
         <link>https://hostile.example/1</link>\
         <description><![CDATA[<p>a ]]]]><![CDATA[> b</p>]]></description></item>\
         <item><title><![CDATA[</title></entry><entry><title>injected</title> ]]]]><![CDATA[> end]]></title>\
         <guid>breakout-2</guid><link>https://hostile.example/2</link></item>",
    )
}

/// Raw C0 controls in a title, and bytes that are not UTF-8 in a description.
fn controls_and_invalid_utf8() -> Vec<u8> {
    let mut bytes = rss(
        "<item><title>ctl \u{1}\u{2}\u{b}\u{1f} end</title><guid>ctl-1</guid>\
         <description>bad TOKEN here</description></item>",
    )
    .into_bytes();
    let at = bytes.windows(5).position(|w| w == b"TOKEN").expect("token");
    bytes.splice(at..at + 5, [0xff, 0xfe, 0xc3, 0x28]);
    bytes
}

fn one_item(declaration: &str, title: &str, guid: &str) -> String {
    format!(
        "{declaration}<rss version=\"2.0\"><channel><title>c</title><item><title>{title}</title>\
         <guid>{guid}</guid></item></channel></rss>"
    )
}

#[test]
fn markup_attacks_are_defused_or_fail_alone() {
    let good = good_feed();
    let side_requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&side_requests);
    let port = Arc::new(Mutex::new(0_u16));
    let server_port = Arc::clone(&port);
    let deep_xml = gzip(
        format!(
            "<rss version=\"2.0\"><channel><title>deep</title><item><title>deep</title>{}{}</item></channel></rss>",
            "<a>".repeat(1_000_000),
            "</a>".repeat(1_000_000)
        )
        .as_bytes(),
    );
    let deep_json = format!(
        "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"deep\",\"items\":[{{\"id\":\"1\",\"title\":\"deep\",\"content_html\":\"x\",\"_deep\":{}{}}}]}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let latin1_declared_utf8_sent = one_item(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
        "Ünïcödé ✓ mislabelled",
        "mislabel-1",
    );
    let mut utf8_declared_latin1_sent = one_item(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "caf_ in latin-1",
        "latin1-1",
    )
    .into_bytes();
    let at = utf8_declared_latin1_sent
        .iter()
        .position(|&b| b == b'_')
        .expect("marker");
    utf8_declared_latin1_sent[at] = 0xE9;
    let utf16_doc = one_item(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
        "Été en UTF-16",
        "utf16-1",
    );
    let utf16le = utf16(&utf16_doc, false, true);
    let utf16be = utf16(
        &utf16_doc
            .replace("utf16-1", "utf16-2")
            .replace("UTF-16<", "UTF-16BE<"),
        true,
        false,
    );
    let utf16_declared_utf8_sent = one_item(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
        "Déclaré UTF-16, envoyé UTF-8",
        "utf16-3",
    );

    let server = TestServer::start(move |request: &Request| {
        let port = *lock(&server_port);
        match request.path() {
            "/good" => Reply::ok(good.clone()),
            "/laughs" => Reply::ok(laughs(port)),
            "/breakout" => Reply::ok(breakout_titles()),
            "/controls" => Reply::ok(controls_and_invalid_utf8()),
            "/mislabelled" => Reply::ok(latin1_declared_utf8_sent.clone()),
            "/latin1" => Reply::ok(utf8_declared_latin1_sent.clone()),
            "/utf16le" => Reply::ok(utf16le.clone()),
            "/utf16be" => Reply::ok(utf16be.clone()),
            "/utf16-as-utf8" => Reply::ok(utf16_declared_utf8_sent.clone()),
            "/deep-xml" => Reply::ok(deep_xml.clone()).header("Content-Encoding", "gzip"),
            "/deep-json" => {
                Reply::ok(deep_json.clone()).header("Content-Type", "application/feed+json")
            }
            other => {
                // The external DTD, parameter entity and entity targets land here.
                lock(&seen).push(other.to_owned());
                Reply::ok("<!ENTITY lol \"PWNED\">")
            }
        }
    });
    *lock(&port) = server.addr().port();
    let names = [
        "good",
        "laughs",
        "breakout",
        "controls",
        "mislabelled",
        "latin1",
        "utf16le",
        "utf16be",
        "utf16-as-utf8",
        "deep-xml",
        "deep-json",
    ];
    let feeds: Vec<(&str, String)> = names
        .iter()
        .map(|name| (*name, server.url(&format!("/{name}")).to_string()))
        .collect();
    // The nested document is 7 MB decoded: let it through the cap, to reach the parser.
    let bed = Bed::new(&feeds, "timeout = \"10s\"\nmax_body = \"16MiB\"", "");
    let (out, err) = bed.poll();
    show_failures(&err);
    assert!(out.contains("11 feeds: 9 fetched"), "{out}\n{err}");

    assert_failed(
        &err,
        "deep-xml",
        &["document nests elements more than 256 deep"],
    );
    assert_failed(
        &err,
        "deep-json",
        &["JSON error", "recursion limit exceeded"],
    );
    for name in &names[..9] {
        assert_not_failed(&err, name);
    }
    assert!(
        lock(&side_requests).is_empty(),
        "an external entity or DTD was fetched: {:?}",
        lock(&side_requests)
    );

    let feed = bed.check_outputs();
    assert_good_feed_is_in(&feed);
    let titles = titles(&feed);
    let has = |title: &str| titles.iter().any(|t| t == title);
    // Entities are neither expanded nor resolved: the reference stays text, escaped again.
    assert!(has("Boom &lol9;"), "{titles:#?}");
    let atom = std::fs::read_to_string(&bed.atom).expect("merged feed");
    assert!(atom.contains("Boom &amp;lol9;"), "re-escaped");
    assert!(!atom.contains("PWNED") && !atom.contains("root:"));
    // A title cannot close its element, open an entry or end a CDATA section; the markup in
    // a title is text, and the controls are gone.
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("One ]]> two") && t.ends_with("three four")),
        "{titles:#?}"
    );
    assert!(!titles.iter().any(|t| t == "injected"), "{titles:#?}");
    assert!(!feed.entries.iter().any(|e| e.id == "urn:evil"));
    assert!(!atom.contains("]]>"), "a CDATA end in the output");
    assert!(has("ctl end"), "{titles:#?}");
    // Charsets: a wrong declaration does not win over bytes that say otherwise.
    assert!(has("Ünïcödé ✓ mislabelled"), "{titles:#?}");
    assert!(has("café in latin-1"), "{titles:#?}");
    assert!(has("Été en UTF-16"), "LE with a BOM: {titles:#?}");
    assert!(has("Été en UTF-16BE"), "BE without one: {titles:#?}");
    assert!(has("Déclaré UTF-16, envoyé UTF-8"), "{titles:#?}");
    // Nothing was read from disk: only the feeds and nothing else was asked for.
    let asked: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(asked.len(), names.len(), "{asked:?}");
}

// ---------------------------------------------------------------------------------------------
// Content

/// XSS vectors in their obfuscated spellings, in every place an item carries HTML or a URL.
pub(crate) fn obfuscated_vectors() -> String {
    rss(
        r#"<item><title>Vectors &lt;script&gt;alert(1)&lt;/script&gt; end</title><guid>vectors-1</guid>
<link>JaVaScRiPt:alert(2)</link><comments>javascript:alert(3)</comments>
<author>&lt;img src=x onerror=alert(4)&gt;</author>
<category>&lt;svg onload=alert(5)&gt;</category>
<enclosure url="javascript:alert(6)" type="audio/mpeg" length="1"/>
<description><![CDATA[<p>intro</p>
<a href="JaVaScRiPt:alert(7)">mixed case</a>
<a href="java&#x09;script:alert(8)">tab entity</a>
<a href="java&#9;script:alert(9)">decimal tab</a>
<a href="jav&#x0A;ascript:alert(10)">newline entity</a>
<a href="  javascript:alert(11)">leading spaces</a>
<a href="&#106;avascript:alert(12)">entity j</a>
<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(13)">all entities</a>
<a href="ja&#0000118;ascript:alert(14)">padded</a>
<a href="vbscript:msgbox(15)">vbscript</a>
<a href="livescript:alert(16)">livescript</a>
<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxNyk8L3NjcmlwdD4=">data html</a>
<img src="data:text/html,<script>alert(18)</script>">
<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMTkpPg==">
<svg onload="alert(20)"><circle r="1"/></svg>
<svg><script>alert(21)</script></svg>
<svg><a xlink:href="javascript:alert(22)"><text>svg link</text></a></svg>
<img srcset="javascript:alert(23) 1x, https://ok.example/a.png 2x">
<img src="https://ok.example/b.png" srcset="data:image/svg+xml,&lt;svg onload=alert(24)&gt; 1x">
<picture><source srcset="javascript:alert(25)"><img src="https://ok.example/c.png"></picture>
<math><mi xlink:href="javascript:alert(26)">math</mi></math>
<iframe srcdoc="&lt;script&gt;alert(27)&lt;/script&gt;"></iframe>
<form><button formaction="javascript:alert(28)">button</button></form>
<div style="background:url(javascript:alert(29))">styled</div>
<a href="https://ok.example/" onclick="alert(30)" onmouseover="alert(31)">handlers</a>
<img src=x onerror=alert(32)>
<body onload=alert(33)>
<object data="javascript:alert(34)"></object><embed src="javascript:alert(35)">
<meta http-equiv="refresh" content="0;url=javascript:alert(36)">
<base href="javascript:alert(37)//">
<a href="https://good.example/kept">kept</a>
]]></description></item>"#,
    )
}

/// The same vectors as a JSON Feed.
pub(crate) fn obfuscated_json() -> String {
    serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "json vectors",
        "items": [{
            "id": "json-vectors-1",
            "url": "javascript:alert(40)",
            "title": "JSON <script>alert(41)</script> vectors",
            "content_html": "<p>json</p><a href=\"JaVaScRiPt:alert(42)\">a</a><img src=x onerror=alert(43)><svg onload=alert(44)></svg><a href=\"data:text/html,<script>alert(45)</script>\">d</a><img srcset=\"javascript:alert(46)\">",
            "attachments": [{"url": "javascript:alert(47)", "mime_type": "audio/mpeg"}],
            "authors": [{"name": "<img src=x onerror=alert(48)>", "url": "javascript:alert(49)"}]
        }]
    })
    .to_string()
}

/// The XSS vectors of feedparser's sanitiser tests, read from the shared corpus at test time
/// (never copied here). `None`, with a note, when the corpus is absent and not required.
fn sanitize_corpus() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/feedparser-sanitize/tests/wellformed/sanitize");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        assert!(
            std::env::var("TRIBUTARY_REQUIRE_SHARED").as_deref() != Ok("1"),
            "TRIBUTARY_REQUIRE_SHARED=1 but {} is missing",
            dir.display()
        );
        eprintln!(
            "note: {} not found; the corpus part of this test is skipped",
            dir.display()
        );
        return None;
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "xml"))
        .map(|path| {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("UTF-8 file name")
                .replace('_', "-");
            let bytes = std::fs::read(&path).expect("corpus file readable");
            (stem, bytes)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 60,
        "{} files in {}",
        files.len(),
        dir.display()
    );
    Some(files)
}

/// A sink's request bodies must carry nothing a chat client or a program could run.
fn assert_harmless_notifications(requests: &[Request], sink: &str) {
    assert!(!requests.is_empty(), "sink {sink} received nothing");
    for request in requests {
        let body: serde_json::Value = serde_json::from_slice(&request.body)
            .unwrap_or_else(|e| panic!("sink {sink}: body is not JSON: {e}"));
        each_string(&body, &mut |s| {
            assert_harmless_text(s, &format!("a notification to {sink}"));
            assert!(
                !s.to_ascii_lowercase().contains("<img") && !s.contains("<svg"),
                "markup in a notification to {sink}: {s}"
            );
        });
    }
}

#[test]
fn xss_vectors_reach_no_output_and_no_notification() {
    let corpus = sanitize_corpus().unwrap_or_default();
    let mut routes: Vec<(String, Reply)> = vec![
        ("/good".into(), Reply::ok(good_feed())),
        ("/vectors".into(), Reply::ok(obfuscated_vectors())),
        (
            "/json-vectors".into(),
            Reply::ok(obfuscated_json()).header("Content-Type", "application/feed+json"),
        ),
    ];
    for (name, bytes) in &corpus {
        routes.push((format!("/{name}"), Reply::ok(bytes.clone())));
    }
    let server = TestServer::routes(routes);
    let hook = TestServer::start(|_| Reply::ok("ok"));
    let slack = TestServer::start(|_| Reply::ok("ok"));
    let mut feeds: Vec<(&str, String)> = ["good", "vectors", "json-vectors"]
        .iter()
        .map(|name| (*name, server.url(&format!("/{name}")).to_string()))
        .collect();
    for (name, _) in &corpus {
        feeds.push((name.as_str(), server.url(&format!("/{name}")).to_string()));
    }
    // Backfill is normally silent; these sinks ask for it, so the first poll notifies. Slack
    // allows one message a second, so it gets one digest instead of a message per story.
    let sinks = format!(
        "[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nnotify_backfill = true\n\n\
         [[notify]]\nname = \"slack\"\nkind = \"slack\"\nurl = \"{}\"\nnotify_backfill = true\ndigest = true\n",
        hook.url("/hook"),
        slack.url("/services/T/B/x"),
    );
    let bed = Bed::new(&feeds, FETCH, &sinks);
    let (out, err) = bed.poll();
    show_failures(&err);
    for name in ["good", "vectors", "json-vectors"] {
        assert_not_failed(&err, name);
    }

    let feed = bed.check_outputs();
    assert_good_feed_is_in(&feed);
    let vectors = feed
        .entries
        .iter()
        .find(|e| {
            e.title
                .as_ref()
                .is_some_and(|t| t.content.starts_with("Vectors"))
        })
        .expect("the vectors' entry");
    let html = vectors
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .or(vectors.summary.as_ref().map(|s| s.content.as_str()))
        .expect("the vectors' HTML");
    // What is not dangerous survives: the text and the good link.
    assert!(
        html.contains("intro") && html.contains("mixed case"),
        "{html}"
    );
    assert!(html.contains("https://good.example/kept"), "{html}");
    assert!(
        !vectors
            .links
            .iter()
            .any(|l| l.rel.as_deref() == Some("enclosure")),
        "a javascript: enclosure"
    );
    if !corpus.is_empty() {
        // Most of the corpus files are feeds with an entry each; they must be in the output.
        assert!(
            feed.entries.len() >= 40,
            "{} entries from {} corpus feeds\n{out}\n{err}",
            feed.entries.len(),
            corpus.len()
        );
        // And each vector checked something: every file with an entry (half of them Atom 0.3,
        // the rest Atom 1.0 and RSS) gave an item, which sits in a story as a member. The few
        // without one attack the feed's own title.
        let stories = bed.run(&["stories", "--json", "--limit", "100000"]);
        assert_success(&stories);
        let mut feeds_with_items = std::collections::HashSet::new();
        for line in stdout(&stories).lines() {
            let story: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("stories --json line is not JSON ({e}): {line}"));
            for member in story["members"].as_array().into_iter().flatten() {
                if let Some(feed) = member["feed"].as_str() {
                    feeds_with_items.insert(feed.to_string());
                }
            }
        }
        let with_entries: Vec<&str> = corpus
            .iter()
            .filter(|(_, bytes)| {
                let text = String::from_utf8_lossy(bytes);
                text.contains("<entry") || text.contains("<item")
            })
            .map(|(name, _)| name.as_str())
            .collect();
        let missing: Vec<&&str> = with_entries
            .iter()
            .filter(|name| !feeds_with_items.contains(**name))
            .collect();
        assert!(
            missing.is_empty(),
            "{} of {} vectors with an entry gave no item: {missing:?}\n{err}",
            missing.len(),
            with_entries.len()
        );
        assert!(
            with_entries.len() >= 65,
            "{} vectors with an entry",
            with_entries.len()
        );
    }

    assert_harmless_notifications(&hook.requests(), "hook");
    assert_harmless_notifications(&slack.requests(), "slack");
    let titles: Vec<String> = hook
        .requests()
        .iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .filter_map(|v| v["story"]["title"].as_str().map(str::to_owned))
        .collect();
    assert!(
        titles.iter().any(|t| t.starts_with("Vectors")),
        "the vectors' story was notified: {titles:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Transport

/// `/hop/N` redirects to `/hop/N-1`; `/hop/0` is the good feed.
fn hop(path: &str, good: &[u8]) -> Option<Reply> {
    let n: u32 = path.strip_prefix("/hop/")?.parse().ok()?;
    Some(if n == 0 {
        Reply::ok(good.to_vec())
    } else {
        Reply::redirect(302, &format!("/hop/{}", n - 1))
    })
}

/// A port that answers whatever arrives (a TLS ClientHello, here) the way a plain-HTTP server
/// does: `400 Bad Request`, then close. Returns the port; the listener lives as long as the
/// test process, which is fine for a thread blocked in `accept`.
fn plain_http_answering_tls() -> u16 {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut hello = [0_u8; 512];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = stream.read(&mut hello);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    port
}

#[test]
fn transport_failures_are_each_named_and_rate_limits_are_honoured() {
    let good = good_feed();
    let zipped = gzip(&good);
    let brotli_bomb = fixture("hostile/zeros-256MiB.br");
    let over_cap = vec![b' '; 2 * MIB];
    let server = TestServer::start(move |request: &Request| {
        if let Some(reply) = hop(request.path(), &good) {
            return reply;
        }
        match request.path() {
            "/good" => Reply::ok(good.clone()),
            "/trickle" => Reply::ok(good.clone()).trickle(Duration::from_millis(50)),
            "/hang" => Reply::Hang,
            "/reset" => Reply::ok(good.clone()).reset_after(500),
            "/gzip-truncated" => {
                Reply::ok(zipped[..zipped.len() / 2].to_vec()).header("Content-Encoding", "gzip")
            }
            "/gz-file-truncated" => Reply::ok(zipped[..zipped.len() / 2].to_vec())
                .header("Content-Type", "application/gzip"),
            "/gzip-bomb" => Reply::ok(gzip_bomb(64)).header("Content-Encoding", "gzip"),
            "/gz-file-bomb" => Reply::ok(gzip_bomb(64)).header("Content-Type", "application/gzip"),
            "/brotli-bomb" => Reply::ok(brotli_bomb.clone()).header("Content-Encoding", "br"),
            "/too-large" => Reply::ok(over_cap.clone()),
            "/too-large-chunked" => {
                Reply::ok(chunked(&over_cap)).header("Transfer-Encoding", "chunked")
            }
            "/loop" => Reply::redirect(301, "/loop-back"),
            "/loop-back" => Reply::redirect(307, "/loop"),
            "/to-file" => Reply::redirect(302, "file:///etc/passwd"),
            "/429" => Reply::status(429).header("Retry-After", "120"),
            "/429-garbage" => Reply::status(429).header("Retry-After", "soon, maybe"),
            "/503-date" => {
                Reply::status(503).header("Retry-After", "Fri, 01 Jan 2100 00:00:00 GMT")
            }
            "/503-garbage" => Reply::status(503).header("Retry-After", "Wed, 99 Oct 2026 99:99"),
            "/503-huge" => Reply::status(503).header("Retry-After", "99999999999999999999999"),
            _ => Reply::not_found(),
        }
    });
    let http_port = plain_http_answering_tls();
    let at = |path: &str| server.url(path).to_string();
    // The slow feeds go through `localhost`, whose connection limit (two per host) is not the
    // one the others queue behind.
    let slow = |path: &str| format!("http://localhost:{}{path}", server.addr().port());
    let feeds: Vec<(&str, String)> = vec![
        ("good", at("/good")),
        ("trickle", slow("/trickle")),
        ("hang", slow("/hang")),
        ("reset", at("/reset")),
        ("gzip-truncated", at("/gzip-truncated")),
        ("gz-file-truncated", at("/gz-file-truncated")),
        ("gzip-bomb", at("/gzip-bomb")),
        ("gz-file-bomb", at("/gz-file-bomb")),
        ("brotli-bomb", at("/brotli-bomb")),
        ("too-large", at("/too-large")),
        ("too-large-chunked", at("/too-large-chunked")),
        ("loop", at("/loop")),
        ("hops-10", at("/hop/10")),
        ("hops-11", at("/hop/11")),
        ("to-file", at("/to-file")),
        // TLS to a port that speaks plain HTTP: the test server waits for a request head
        // that never comes, a real server answers the handshake with an HTTP error.
        (
            "tls-silent",
            format!("https://127.0.0.1:{}/good", server.addr().port()),
        ),
        (
            "tls-http-answer",
            format!("https://127.0.0.1:{http_port}/good"),
        ),
        ("r429", at("/429")),
        ("r429-garbage", at("/429-garbage")),
        ("r503-date", at("/503-date")),
        ("r503-garbage", at("/503-garbage")),
        ("r503-huge", at("/503-huge")),
    ];
    let bed = Bed::new(&feeds, FETCH, "");
    let started = Instant::now();
    let (out, err) = bed.poll();
    show_failures(&err);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(out.contains("22 feeds: 2 fetched"), "{out}\n{err}");

    let timeout = ["timed out after 2s"];
    let broken = ["reading the body failed (connection broken or content corrupt)"];
    let cap = ["body larger than 1048576 bytes"];
    assert_failed(&err, "trickle", &timeout);
    assert_failed(&err, "hang", &timeout);
    assert_failed(&err, "reset", &broken);
    assert_failed(&err, "gzip-truncated", &broken);
    assert_failed(&err, "gz-file-truncated", &["gzip body cannot be inflated"]);
    assert_failed(&err, "gzip-bomb", &cap);
    assert_failed(&err, "gz-file-bomb", &cap);
    assert_failed(&err, "brotli-bomb", &cap);
    assert_failed(
        &err,
        "too-large",
        &["body larger than 1048576 bytes (Content-Length says 2097152)"],
    );
    assert_failed(&err, "too-large-chunked", &cap);
    assert_failed(&err, "loop", &["redirect loop: redirected back to"]);
    assert_not_failed(&err, "hops-10");
    assert_failed(&err, "hops-11", &["too many redirects (more than 10)"]);
    assert_failed(
        &err,
        "to-file",
        &["redirected to file:///etc/passwd, which is not http or https"],
    );
    assert_failed(&err, "tls-silent", &timeout);
    assert_failed(
        &err,
        "tls-http-answer",
        &[
            "cannot connect (DNS, TCP or TLS failure)",
            "https://127.0.0.1:",
        ],
    );
    let limited = ["rate limited; not asking again before"];
    let garbage = ["rate limited, without a usable Retry-After; backing off"];
    assert_failed(&err, "r429", &limited);
    assert_failed(&err, "r429-garbage", &garbage);
    assert_failed(&err, "r503-date", &limited);
    assert_failed(&err, "r503-garbage", &garbage);
    assert_failed(&err, "r503-huge", &limited);

    let feed = bed.check_outputs();
    assert_good_feed_is_in(&feed);

    // The next poll asks neither the rate-limited feeds (Retry-After, or back-off when it was
    // garbage) nor any other failed feed (back-off), and still the good one.
    server.clear_requests();
    let (out, _) = bed.poll();
    assert!(
        out.contains("22 feeds: 2 fetched, 0 unchanged, 20 skipped"),
        "{out}"
    );
    let asked: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert!(asked.contains(&"/good".to_owned()), "{asked:?}");
    for path in [
        "/429",
        "/429-garbage",
        "/503-date",
        "/503-garbage",
        "/503-huge",
    ] {
        assert!(!asked.contains(&path.to_owned()), "{path} asked: {asked:?}");
    }
    let status = bed.run(&["status"]);
    assert_success(&status);
    let table = stdout(&status);
    for name in ["r429", "r503-date"] {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in\n{table}"));
        assert!(row.contains("rate limited"), "{table}");
    }
}

// ---------------------------------------------------------------------------------------------
// Addresses

/// This machine's host name, if it resolves only to loopback or private addresses (here
/// `/etc/hosts` maps it to 127.0.0.1), so it stands for "a public-looking name that resolves
/// into private space". `None`, with a note, otherwise.
fn private_hostname() -> Option<String> {
    use std::net::ToSocketAddrs;
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()?
        .trim()
        .to_owned();
    let resolved: Vec<std::net::IpAddr> = match (name.as_str(), 80).to_socket_addrs() {
        Ok(addrs) => addrs.map(|a| a.ip()).collect(),
        Err(_) => Vec::new(),
    };
    let private = |ip: &std::net::IpAddr| match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        std::net::IpAddr::V6(v6) => v6.is_loopback(),
    };
    if name.is_empty() || name.contains("localhost") || resolved.is_empty() {
        eprintln!("note: host name {name:?} does not resolve; its cases are skipped");
        return None;
    }
    if !resolved.iter().all(private) {
        eprintln!("note: host name {name:?} resolves to {resolved:?}; its cases are skipped");
        return None;
    }
    Some(name)
}

#[test]
fn redirects_and_names_into_private_space_are_refused_unless_allowed() {
    // The target: a good feed that must never be reached through a redirect or a name.
    let target = TestServer::routes([("/feed", Reply::ok(good_feed()))]);
    let q = target.addr().port();
    let hostname = private_hostname();
    let mut redirects: Vec<(&str, String)> = vec![
        ("to-loopback", format!("http://127.0.0.1:{q}/feed")),
        ("to-127-1", format!("http://127.1:{q}/feed")),
        ("to-hex", format!("http://0x7f.1:{q}/feed")),
        ("to-integer", format!("http://2130706433:{q}/feed")),
        ("to-octal", format!("http://0177.0.0.1:{q}/feed")),
        ("to-mapped", format!("http://[::ffff:127.0.0.1]:{q}/feed")),
        ("to-v6-loopback", format!("http://[::1]:{q}/feed")),
        ("to-zero", format!("http://0.0.0.0:{q}/feed")),
        ("to-app-localhost", format!("http://app.localhost:{q}/feed")),
        (
            "to-metadata",
            "http://169.254.169.254/latest/meta-data/".into(),
        ),
        ("to-10", "http://10.0.0.1/feed".into()),
        ("to-192-168", "http://192.168.1.1/feed".into()),
        ("to-cgnat", "http://100.64.0.1/feed".into()),
        ("to-reserved", "http://240.0.0.1/feed".into()),
        ("to-ula", "http://[fd00::1]/feed".into()),
        ("to-nat64", "http://[64:ff9b::a9fe:a9fe]/feed".into()),
    ];
    if let Some(name) = &hostname {
        redirects.push(("to-hostname", format!("http://{name}:{q}/feed")));
    }
    let table = redirects.clone();
    let local = TestServer::start(move |request: &Request| {
        let name = request.path().trim_start_matches('/');
        match name {
            "moved" => Reply::redirect(301, "/feed"),
            "feed" => Reply::ok(good_feed()),
            _ => table
                .iter()
                .find(|(n, _)| *n == name)
                .map_or_else(Reply::not_found, |(_, to)| Reply::redirect(302, to)),
        }
    });
    let p = local.addr().port();
    // The admin's own choices: `localhost` and the literal 127.0.0.1 are fetched; their
    // redirects are checked. A redirect within the configured host and port is followed.
    let mut feeds: Vec<(&str, String)> = redirects
        .iter()
        .map(|(name, _)| (*name, format!("http://localhost:{p}/{name}")))
        .collect();
    feeds.push(("admins-literal", format!("http://127.0.0.1:{p}/moved")));
    feeds.push(("other-port", format!("http://127.0.0.1:{p}/to-loopback")));
    if let Some(name) = &hostname {
        feeds.push(("hostname-direct", format!("http://{name}:{q}/feed")));
    }
    let bed = Bed::new(&feeds, FETCH, "");
    let (out, err) = bed.poll();
    show_failures(&err);
    assert_not_failed(&err, "admins-literal");
    for (name, to) in &redirects {
        // Every spelling is read as the address it means, and refused as that address.
        let to = url::Url::parse(to).expect("target URL");
        let expected = match to.host() {
            Some(url::Host::Ipv4(ip)) => format!("refused: redirect to non-public address {ip}"),
            Some(url::Host::Ipv6(ip)) => {
                format!("refused: redirect to non-public address [{ip}]")
            }
            Some(url::Host::Domain(host)) if host.ends_with("localhost") => {
                format!("refused: redirect to {host}, which is this machine")
            }
            Some(url::Host::Domain(host)) => {
                format!("refused: {host} resolves only to non-public addresses")
            }
            None => panic!("{to} has no host"),
        };
        assert_failed(&err, name, &[&expected]);
    }
    assert_failed(
        &err,
        "other-port",
        &[&format!(
            "refused: redirect to port {q} of non-public host 127.0.0.1; only the configured port is trusted"
        )],
    );
    if let Some(name) = &hostname {
        assert_failed(
            &err,
            "hostname-direct",
            &[&format!(
                "refused: {name} resolves only to non-public addresses"
            )],
        );
    }
    assert!(
        target.requests().is_empty(),
        "a refused address was reached: {:?}",
        target.requests()
    );
    let feed = bed.check_outputs();
    assert_good_feed_is_in(&feed);
    assert!(out.contains("1 fetched"), "{out}");

    // `allow_private_networks = true`: the same redirects into loopback, and the name, work.
    let mut allowed: Vec<(&str, String)> = ["to-loopback", "to-127-1", "to-integer"]
        .iter()
        .map(|name| (*name, format!("http://localhost:{p}/{name}")))
        .collect();
    allowed.push(("other-port", format!("http://127.0.0.1:{p}/to-loopback")));
    if let Some(name) = &hostname {
        allowed.push(("to-hostname", format!("http://localhost:{p}/to-hostname")));
        allowed.push(("hostname-direct", format!("http://{name}:{q}/feed")));
    }
    let open = Bed::new(
        &allowed,
        &format!("{FETCH}\nallow_private_networks = true"),
        "",
    );
    let (out, err) = open.poll();
    show_failures(&err);
    let count = allowed.len();
    assert!(
        out.contains(&format!("{count} feeds: {count} fetched")),
        "{out}\n{err}"
    );
    assert_eq!(target.requests().len(), count);
}

#[test]
fn non_web_schemes_are_refused_in_the_config() {
    for url in [
        "file:///etc/passwd",
        "ftp://127.0.0.1/feed",
        "gopher://127.0.0.1:70/1",
        "data:text/xml,<rss/>",
        "javascript:alert(1)",
    ] {
        let bed = Bed::new(&[("bad", url.to_owned())], FETCH, "");
        for command in [&["check-config"][..], &["poll"][..]] {
            let output = bed.run(command);
            assert!(!output.status.success(), "{url}: {command:?} accepted it");
            let err = stderr(&output);
            assert!(err.contains("feeds[0].url"), "{url}: {err}");
            assert!(err.contains("use http or https"), "{url}: {err}");
        }
        assert!(!bed.database.exists(), "{url}: nothing is polled");
    }
}

// ---------------------------------------------------------------------------------------------
// Panics

/// Documents on which feed-rs 3.0 panics as served (src/normalize/defuse.rs asserts that it
/// does): an address touching wide punctuation, durations in other digits or too long, an XML
/// declaration in the middle, and the crash inputs the fuzzers found.
fn panicking_feeds() -> Vec<(&'static str, Vec<u8>)> {
    let itunes = "xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"";
    let doc = |name: &str, items: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" {itunes}><channel>\
             <title>{name}</title><managingEditor>编辑部：editor@{name}.example</managingEditor>\
             {items}</channel></rss>"
        )
        .into_bytes()
    };
    vec![
        (
            "panic-person",
            doc(
                "person",
                "<item><title>Person panic</title><guid>p1</guid><author>Ana·ana@person.example</author></item>",
            ),
        ),
        (
            "panic-duration",
            doc(
                "duration",
                "<item><title>Duration panic</title><guid>d1</guid><itunes:duration>۱:۲۳:۴۵</itunes:duration>\
                 <enclosure url=\"https://duration.example/d1.mp3\" type=\"audio/mpeg\" length=\"10\"/></item>\
                 <item><title>Duration overflow</title><guid>d2</guid><itunes:duration>123456789012345678901234</itunes:duration></item>",
            ),
        ),
        (
            "panic-declaration",
            doc(
                "declaration",
                "<item><?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><title>Declaration panic</title><guid>x1</guid></item>",
            ),
        ),
        (
            "fuzz-person",
            fixture("hostile/fuzz/pipeline-person-email-slice.xml"),
        ),
        (
            "fuzz-declaration",
            fixture("hostile/fuzz/pipeline-late-xml-declaration.xml"),
        ),
    ]
}

#[test]
fn parser_panics_cost_neither_the_daemon_nor_the_feed() {
    let mut routes: Vec<(String, Reply)> = vec![
        ("/good".into(), Reply::ok(good_feed())),
        // Unrecoverable for the parser: this one fails, on its own.
        (
            "/deep".into(),
            Reply::ok(format!(
                "<rss version=\"2.0\"><channel><item>{}</item></channel></rss>",
                "<b>".repeat(10_000)
            )),
        ),
    ];
    let panicking = panicking_feeds();
    for (name, bytes) in &panicking {
        routes.push((format!("/{name}"), Reply::ok(bytes.clone())));
    }
    let server = TestServer::routes(routes);
    let mut feeds: Vec<(&str, String)> = vec![
        ("good", server.url("/good").to_string()),
        ("deep", server.url("/deep").to_string()),
    ];
    for (name, _) in &panicking {
        feeds.push((name, server.url(&format!("/{name}")).to_string()));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let server_table = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\nbase_url = \"https://feeds.example/merged/\"\n\n\
         [schedule]\ndefault = \"*/2 * * * * *\"\n"
    );
    let bed = Bed::new(&feeds, FETCH, &server_table);
    let daemon = Daemon::spawn(&bed.ws, &bed.config, port);
    daemon.wait_for("readiness after the first cycle", || {
        daemon.get("/readyz").0 == 200
    });
    // A second cycle: the daemon outlives repeated panics.
    let first_polls = server.requests().len();
    daemon.wait_for("a second poll cycle", || {
        server.requests().len() >= 2 * first_polls
    });
    assert_eq!(daemon.get("/healthz").0, 200);
    let (status, _, atom) = daemon.get("/feed.atom");
    assert_eq!(status, 200);
    oracle::check_well_formed(atom.as_bytes());
    let feed = feed_rs::parser::parse(atom.as_bytes()).expect("served feed parses");
    assert_good_feed_is_in(&feed);
    let titles = titles(&feed);
    for expected in [
        "Person panic",
        "Duration panic",
        "Duration overflow",
        "Declaration panic",
    ] {
        assert!(
            titles.iter().any(|t| t == expected),
            "{expected} missing: {titles:#?}"
        );
    }
    let (status, _, json) = daemon.get("/feed.json");
    assert_eq!(status, 200);
    serde_json::from_str::<serde_json::Value>(&json).expect("served JSON Feed");
    let log = daemon.log();
    assert!(
        log.contains("document nests elements more than 256 deep"),
        "the deep feed's error is logged:\n{log}"
    );
    let (exit, _) = daemon.stop();
    assert!(exit.success(), "{exit:?}\n{log}");

    let status = bed.run(&["status"]);
    assert_success(&status);
    let table = stdout(&status);
    for (name, _) in &panicking {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in\n{table}"));
        assert!(row.contains(" ok "), "{name}: {row}\n{table}");
    }
}

#[test]
fn fuzz_crash_inputs_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/fuzz");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz regression inputs") {
        let path = entry.expect("directory entry").path();
        let mut bytes = std::fs::read(&path).expect("readable");
        // The item_fields target's inputs are fields, not feeds: build its document.
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if file_name.starts_with("item-fields-") {
            bytes = oracle::item_fields_document(&bytes)
                .expect("a non-empty input")
                .into_bytes();
        }
        // On a 2 MiB stack, as on the daemon's parser threads.
        let name = path.display().to_string();
        let outcome = std::thread::Builder::new()
            .stack_size(2 * MIB)
            .spawn(move || oracle::round_trip(&bytes))
            .expect("spawn")
            .join()
            .unwrap_or_else(|_| panic!("{name}: the oracle failed (see above)"));
        // `*-refused*` inputs are not feeds: a clear error is right (a caught panic is not,
        // and the oracle fails on one); the others must parse.
        match (outcome, name.contains("-refused")) {
            (Ok(trip), false) => assert!(trip.entries <= trip.items + 1, "{name}: {trip:?}"),
            (Err(error), false) => panic!("{name}: no longer parses: {error}"),
            (Ok(trip), true) => panic!("{name}: expected a refusal, parsed {trip:?}"),
            (Err(error), true) => eprintln!("{name}: refused: {error}"),
        }
        checked += 1;
    }
    assert!(checked >= 6, "{checked} inputs in {}", dir.display());
}

// ---------------------------------------------------------------------------------------------
// Contention and disk

/// The good feed, plus an item that appears only once `reveal` is set, so a later poll has
/// something to write.
fn growing_feed() -> (TestServer, Arc<Mutex<bool>>) {
    let reveal = Arc::new(Mutex::new(false));
    let shown = Arc::clone(&reveal);
    let server = TestServer::start(move |_| {
        let mut xml = String::from_utf8(good_feed()).expect("UTF-8 fixture");
        if *lock(&shown) {
            let item = "<item><title>Written after the lock</title><guid>late-1</guid>\
                        <link>https://www.longtail.example/p/late</link>\
                        <description>A story that needs a write.</description></item>";
            let at = xml.find("<item>").expect("an item");
            xml.insert_str(at, item);
        }
        Reply::ok(xml)
    });
    (server, reveal)
}

#[test]
fn a_writer_holding_the_database_lock_is_waited_out() {
    let (server, reveal) = growing_feed();
    let bed = Bed::new(&[("good", server.url("/feed").to_string())], FETCH, "");
    bed.poll();
    *lock(&reveal) = true;

    // Another process's writer: BEGIN IMMEDIATE takes SQLite's write lock and holds it.
    let database = bed.database.clone();
    let (locked, is_locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&database).expect("open the database");
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        locked.send(()).expect("signal");
        std::thread::sleep(Duration::from_secs(3));
        conn.execute_batch("COMMIT")
            .expect("release the write lock");
    });
    is_locked
        .recv_timeout(Duration::from_secs(10))
        .expect("the lock is held");
    let started = Instant::now();
    let (out, err) = bed.poll();
    let waited = started.elapsed();
    holder.join().expect("lock holder");
    assert!(
        waited >= Duration::from_millis(2500),
        "poll finished in {waited:?} while the write lock was held\n{out}\n{err}"
    );
    assert!(out.contains("1 feeds: 1 fetched"), "{out}\n{err}");
    let titles = titles(&bed.check_outputs());
    assert!(
        titles.iter().any(|t| t == "Written after the lock"),
        "{titles:#?}"
    );
}

/// A tmpfs of `size` on a temporary directory of its own, unmounted when dropped (before the
/// directory is removed). `None` where mounting is not permitted (not root, or a sandbox
/// without it).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("mount point");
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match output {
            Ok(output) if output.status.success() => Some(Tmpfs { dir }),
            Ok(output) => {
                eprintln!(
                    "note: cannot mount a tmpfs ({}); the full-disk test is skipped",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("note: cannot run mount ({e}); the full-disk test is skipped");
                None
            }
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Fills the file system with one file; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path("filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        let block = vec![0xAA_u8; 64 * 1024];
        loop {
            if let Err(e) = file.write_all(&block) {
                assert_eq!(
                    e.raw_os_error(),
                    Some(28),
                    "expected ENOSPC filling the disk, got {e}"
                );
                break;
            }
        }
        // Also the last few bytes a small write could still take.
        let mut small = [0_u8; 512];
        while file.write(&small[..]).is_ok_and(|n| n > 0) {
            small[0] = small[0].wrapping_add(1);
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily, so a file still open elsewhere cannot keep the mount (and the test) alive.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn integrity_check(database: &Path) -> String {
    let conn = rusqlite::Connection::open(database).expect("open the database");
    conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check")
}

#[test]
fn a_full_disk_is_a_clear_error_and_recovers_when_space_returns() {
    let Some(disk) = Tmpfs::mount("2m") else {
        return;
    };
    let (server, reveal) = growing_feed();
    let feeds = [("good", server.url("/feed").to_string())];
    let bed = Bed::at(
        Workspace::new(),
        disk.path("tributary.db"),
        disk.path("merged.atom"),
        &feeds,
        FETCH,
        "",
    );
    bed.poll();
    let before = std::fs::read(&bed.atom).expect("merged feed");

    // Full: the next poll has a new story to store and cannot.
    *lock(&reveal) = true;
    let filler = disk.fill();
    let output = bed.run(&["poll"]);
    let err = stderr(&output);
    eprintln!("{err}");
    assert!(
        !output.status.success(),
        "a poll that could store nothing must not look like success:\n{}\n{err}",
        stdout(&output)
    );
    let lower = err.to_ascii_lowercase();
    assert!(
        lower.contains("database or disk is full")
            || lower.contains("no space left on device")
            || lower.contains("disk i/o error"),
        "the error says the disk is full:\n{err}"
    );
    assert!(err.contains(&bed.database.display().to_string()), "{err}");
    assert_eq!(
        std::fs::read(&bed.atom).expect("merged feed"),
        before,
        "the merged feed is the last good one"
    );

    // Space returns: the next poll stores the story and the database is intact.
    std::fs::remove_file(&filler).expect("free the space");
    let (out, err) = bed.poll();
    assert!(out.contains("1 feeds: 1 fetched"), "{out}\n{err}");
    assert_eq!(integrity_check(&bed.database), "ok");
    let titles = titles(&bed.check_outputs());
    assert!(
        titles.iter().any(|t| t == "Written after the lock"),
        "{titles:#?}"
    );
    assert_good_feed_is_in(&bed.check_outputs());
}

#[test]
fn a_disk_that_fills_under_the_running_daemon_is_survived() {
    let Some(disk) = Tmpfs::mount("2m") else {
        return;
    };
    let (server, reveal) = growing_feed();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let bed = Bed::at(
        Workspace::new(),
        disk.path("tributary.db"),
        disk.path("merged.atom"),
        &[("good", server.url("/feed").to_string())],
        FETCH,
        &format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[schedule]\ndefault = \"* * * * * *\"\n"
        ),
    );
    let daemon = Daemon::spawn(&bed.ws, &bed.config, port);
    daemon.wait_for("readiness", || daemon.get("/readyz").0 == 200);

    *lock(&reveal) = true;
    let filler = disk.fill();
    daemon.wait_for("a logged full-disk error", || {
        let log = daemon.log().to_ascii_lowercase();
        log.contains("database or disk is full") || log.contains("no space left on device")
    });
    assert_eq!(daemon.get("/healthz").0, 200, "the daemon is still up");
    for line in daemon.log().lines().filter(|l| l.contains("full")) {
        eprintln!("{line}");
    }

    std::fs::remove_file(&filler).expect("free the space");
    daemon.wait_for("the story stored once space returned", || {
        daemon
            .get("/feed.atom")
            .2
            .contains("Written after the lock")
    });
    // The file too, though nothing new comes: a merged feed that could not be written is
    // written again on the next cycle.
    daemon.wait_for("the merged feed's file written once space returned", || {
        std::fs::read_to_string(&bed.atom).is_ok_and(|atom| atom.contains("Written after the lock"))
    });
    let (exit, _) = daemon.stop();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(integrity_check(&bed.database), "ok");
    let titles = titles(&bed.check_outputs());
    assert!(
        titles.iter().any(|t| t == "Written after the lock"),
        "{titles:#?}"
    );
}
