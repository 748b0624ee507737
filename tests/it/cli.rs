//! The command line as users meet it: help, config errors, inspect, export.

use crate::common::binary::{Workspace, assert_success, stderr, stdout};
use crate::common::server::{Reply, TestServer};

fn fixture_path(name: &str) -> String {
    format!(
        "{}/tests/fixtures/mirrors/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn every_command_has_useful_help() {
    let ws = Workspace::new();
    for command in [
        "poll",
        "export",
        "stories",
        "check-config",
        "status",
        "inspect",
        "discover",
    ] {
        let output = ws.run(&[command, "--help"]);
        assert_success(&output);
        let text = stdout(&output);
        assert!(text.contains("Usage: tributary"), "{command}: {text}");
        assert!(text.lines().count() > 4, "{command}: {text}");
    }
    let text = stdout(&ws.run(&["--help"]));
    for command in [
        "poll",
        "export",
        "stories",
        "check-config",
        "status",
        "inspect",
        "discover",
    ] {
        assert!(text.contains(command), "{command} missing from --help");
    }
}

#[test]
fn config_errors_name_file_key_and_problem() {
    let ws = Workspace::new();
    let cases = [
        ("[output]\ntitel = \"x\"\n", "titel"),
        (
            "[[feeds]]\nname = \"a\"\nurl = \"htp:/nope\"\n",
            "feeds[0].url",
        ),
        (
            "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/\"\nschedule = \"every hour\"\n",
            "feeds[0].schedule",
        ),
    ];
    for (text, key) in cases {
        let path = ws.path("bad.toml");
        std::fs::write(&path, text).expect("write");
        let output = ws.run(&["--config", path.to_str().expect("path"), "check-config"]);
        assert_eq!(output.status.code(), Some(1), "{text}");
        let err = stderr(&output);
        assert!(err.contains("bad.toml"), "{err}");
        assert!(err.contains(key), "{key}: {err}");
    }
    let missing = ws.run(&["--config", "/nonexistent/t.toml", "check-config"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("/nonexistent/t.toml"));

    let ok = ws.run(&["check-config"]);
    assert_success(&ok);
    assert!(stdout(&ok).contains("https://www.interconnects.ai/feed"));
}

#[test]
fn inspect_prints_items_as_json_lines_and_stores_nothing() {
    let ws = Workspace::new();
    let output = ws.run(&["inspect", &fixture_path("podcast.xml")]);
    assert_success(&output);
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["kind"], "episode");
    assert_eq!(lines[0]["duration"], 754);
    assert_eq!(lines[0]["guid"], "substack:post:1001");

    let newsletter = ws.run(&["inspect", &fixture_path("newsletter.xml")]);
    assert_success(&newsletter);
    let first: serde_json::Value =
        serde_json::from_str(stdout(&newsletter).lines().next().expect("an item")).expect("json");
    assert_eq!(
        first["kind"], "post",
        "a cover image does not make an episode"
    );
    assert!(!ws.path("tributary.db").exists(), "inspect stores nothing");
}

#[test]
fn inspect_refuses_what_is_not_a_feed() {
    let server = TestServer::routes([
        (
            "/page",
            Reply::ok(
                "<!DOCTYPE html><html><head><title>Hi</title></head><body>no feed</body></html>",
            ),
        ),
        ("/missing", Reply::status(404)),
    ]);
    let ws = Workspace::new();
    let page = ws.run(&["inspect", server.url("/page").as_str()]);
    assert_eq!(page.status.code(), Some(1));
    assert!(
        stderr(&page).contains("not a readable feed"),
        "{}",
        stderr(&page)
    );

    let missing = ws.run(&["inspect", server.url("/missing").as_str()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("404"), "{}", stderr(&missing));

    let file = ws.run(&["inspect", "/nonexistent/feed.xml"]);
    assert_eq!(file.status.code(), Some(1));
    assert!(stderr(&file).contains("/nonexistent/feed.xml"));
}

#[test]
fn export_writes_every_format() {
    let server = TestServer::routes([(
        "/feed",
        Reply::ok(std::fs::read(fixture_path("newsletter.xml")).expect("fixture")),
    )]);
    let ws = Workspace::new();
    let config = ws.write_config(
        "t.toml",
        &[("newsletter", server.url("/feed").to_string(), "origin")],
        "",
    );
    let config = config.to_str().expect("path");
    assert_success(&ws.run(&["--config", config, "poll"]));

    let json = ws.run(&["--config", config, "export", "--format", "json"]);
    assert_success(&json);
    let feed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON Feed");
    assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(feed["items"].as_array().map(Vec::len), Some(4));

    let opml = ws.run(&["--config", config, "export", "--format", "opml"]);
    assert_success(&opml);
    assert!(stdout(&opml).contains(server.url("/feed").as_str()));

    let out = ws.path("copy.atom");
    let atom = ws.run(&[
        "--config",
        config,
        "export",
        "--format",
        "atom",
        "--output",
        out.to_str().expect("path"),
    ]);
    assert_success(&atom);
    let parsed = feed_rs::parser::parse(std::fs::read(&out).expect("written").as_slice())
        .expect("Atom parses");
    assert_eq!(parsed.entries.len(), 4);
}

#[test]
fn under_systemd_the_default_paths_live_in_the_state_directory() {
    let ws = Workspace::new();
    let state = ws.path("state");
    std::fs::create_dir(&state).expect("state dir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("check-config")
        .current_dir(ws.dir.path())
        .env_remove("TRIBUTARY_CONFIG")
        .env("STATE_DIRECTORY", &state)
        .output()
        .expect("run");
    assert_success(&output);
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "database: {}",
            state.join("tributary.db").display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "merged feed: {}",
            state.join("merged.atom").display()
        )),
        "{text}"
    );
}

#[test]
fn a_missing_config_file_says_the_os_error_once() {
    let ws = Workspace::new();
    let output = ws.run(&["--config", "/nonexistent/t.toml", "status"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    // "No such file or directory (os error 2)", once: not again as the error's cause.
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn the_same_feed_under_two_names_is_refused_naming_both() {
    let ws = Workspace::new();
    let config = ws.write_config(
        "t.toml",
        &[
            (
                "blog",
                "https://www.blog.example/feed/".to_owned(),
                "origin",
            ),
            (
                "blog-again",
                "http://blog.example/feed".to_owned(),
                "mirror",
            ),
        ],
        "",
    );
    let output = ws.run(&["--config", config.to_str().expect("path"), "check-config"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    for expected in [
        "t.toml",
        "feeds[1].url",
        "`blog`",
        "`blog-again`",
        "http://blog.example/feed",
        "https://www.blog.example/feed/",
    ] {
        assert!(err.contains(expected), "{expected} missing: {err}");
    }
}

/// `tributary inspect URL | head`: the reader closes the pipe after a few lines, and the
/// command ends at its next write, quietly and with success.
#[test]
fn inspect_into_a_pipe_closed_early_ends_quietly() {
    use std::io::BufRead;
    let mut feed = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Long</title><link>https://long.example/</link>",
    );
    for i in 0..3000 {
        feed.push_str(&format!(
            "<item><title>Post {i}</title><link>https://long.example/{i}</link><guid>{i}</guid><description>{}</description></item>",
            "Words that fill the pipe. ".repeat(20)
        ));
    }
    feed.push_str("</channel></rss>");
    let server = TestServer::routes([("/feed", Reply::ok(feed))]);
    let ws = Workspace::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["inspect", server.url("/feed").as_str()])
        .current_dir(ws.dir.path())
        .env_remove("TRIBUTARY_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tributary");
    let stdout_pipe = child.stdout.take().expect("piped stdout");
    let mut first = String::new();
    std::io::BufReader::new(stdout_pipe)
        .read_line(&mut first)
        .expect("a first line");
    assert!(first.contains("Post 0"), "{first}");
    // The reader is dropped here, like `head` exiting: the pipe closes with megabytes unsent.
    let output = child.wait_with_output().expect("tributary ends");
    let err = stderr(&output);
    assert!(output.status.success(), "exit {:?}: {err}", output.status);
    assert!(!err.to_lowercase().contains("broken pipe"), "{err}");
    assert!(!err.contains("error"), "{err}");
}

#[test]
fn read_only_commands_create_no_database_and_say_where_they_looked() {
    let ws = Workspace::new();
    let config = ws.write_config(
        "t.toml",
        &[("blog", "https://blog.example/feed".to_owned(), "origin")],
        "",
    );
    let config = config.to_str().expect("path");
    let database = ws.path("tributary.db");
    for args in [
        vec!["stories"],
        vec!["stories", "--json"],
        vec!["stories", "--explain", "1"],
        vec!["stories", "split", "1"],
        vec!["export", "--format", "atom"],
        vec!["export", "--format", "json"],
    ] {
        let output = ws.run(&[&["--config", config][..], &args].concat());
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let err = stderr(&output);
        assert!(
            err.contains(&format!("no database at {}", database.display())),
            "{args:?}: {err}"
        );
        assert!(err.contains("t.toml"), "{args:?}: {err}");
        assert!(err.contains("tributary poll"), "{args:?}: {err}");
        assert!(
            !database.exists(),
            "{args:?} created {}",
            database.display()
        );
    }
    // The feed list needs no database.
    assert_success(&ws.run(&["--config", config, "export", "--format", "opml"]));
    // Status lists the configured feeds as never polled, and says why.
    let status = ws.run(&["--config", config, "status"]);
    assert_success(&status);
    assert!(stdout(&status).contains("blog"), "{}", stdout(&status));
    assert!(
        stdout(&status).contains("never polled"),
        "{}",
        stdout(&status)
    );
    assert!(
        stderr(&status).contains(&format!("no database at {}", database.display())),
        "{}",
        stderr(&status)
    );
    assert!(!database.exists(), "status created {}", database.display());
    // Without --config the default database lives in the current directory: named absolute.
    let output = ws.run(&["stories"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("<built-in default config>"), "{err}");
    assert!(
        err.contains(&format!("{}", ws.dir.path().display())),
        "{err}"
    );
    assert!(!database.exists());
}

/// A feed list moved from one tributary to another keeps which feeds are mirrors.
#[test]
fn opml_export_then_import_keeps_each_feed_role() {
    let ws = Workspace::new();
    let from = ws.write_config(
        "from.toml",
        &[
            ("blog", "https://blog.example/feed".to_owned(), "origin"),
            ("digest", "https://digest.example/rss".to_owned(), "mirror"),
        ],
        "",
    );
    let opml = ws.path("feeds.opml");
    assert_success(&ws.run(&[
        "--config",
        from.to_str().expect("path"),
        "export",
        "--format",
        "opml",
        "--output",
        opml.to_str().expect("path"),
    ]));
    let text = std::fs::read_to_string(&opml).expect("exported");
    assert!(
        text.contains("xmlns:tributary=\"urn:tributary:opml\""),
        "{text}"
    );
    assert!(text.contains("tributary:role=\"mirror\""), "{text}");

    let to = ws.path("to.toml");
    std::fs::write(&to, "# my config\n").expect("write");
    let to = to.to_str().expect("path");
    assert_success(&ws.run(&["--config", to, "import-opml", opml.to_str().expect("path")]));
    let check = ws.run(&["--config", to, "check-config"]);
    assert_success(&check);
    let listed = stdout(&check);
    assert!(listed.contains("feed blog (origin,"), "{listed}");
    assert!(listed.contains("feed digest (mirror,"), "{listed}");
}

/// A blog's home page as sites serve it: its feeds named in `<head>`, relative and absolute.
fn page_advertising(feeds: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>A blog</title>\
         <link rel=\"stylesheet\" href=\"/style.css\">{feeds}</head>\
         <body><h1>A blog</h1><p>Posts.</p></body></html>"
    )
}

#[test]
fn discover_prints_the_feeds_a_page_advertises() {
    let newsletter = std::fs::read(fixture_path("newsletter.xml")).expect("fixture");
    let server = TestServer::routes([
        (
            "/blog/",
            Reply::ok(page_advertising(
                "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Posts\" href=\"feed.xml\">\
                 <link rel=\"alternate\" type=\"application/atom+xml\" href=\"/comments.atom\">\
                 <link rel=\"alternate\" type=\"application/feed+json\" href=\"https://feeds.example/blog.json\">",
            )),
        ),
        ("/old", Reply::redirect(301, "/blog/")),
        ("/blog/feed.xml", Reply::ok(newsletter)),
        ("/plain", Reply::ok(page_advertising(""))),
    ]);
    let ws = Workspace::new();
    // Through a redirect: relative links resolve against the page's final address.
    let output = ws.run(&["discover", server.url("/old").as_str()]);
    assert_success(&output);
    assert_eq!(
        stdout(&output).lines().collect::<Vec<_>>(),
        [
            server.url("/blog/feed.xml").as_str(),
            server.url("/comments.atom").as_str(),
            "https://feeds.example/blog.json",
        ]
    );

    let json = ws.run(&["discover", "--json", server.url("/blog/").as_str()]);
    assert_success(&json);
    let lines: Vec<serde_json::Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        serde_json::json!({
            "url": server.url("/blog/feed.xml").as_str(),
            "type": "application/rss+xml",
            "title": "Posts",
        })
    );
    assert_eq!(lines[2]["type"], "application/feed+json");
    assert_eq!(lines[2]["title"], serde_json::Value::Null);

    // A feed's own URL is its feed.
    let feed = ws.run(&["discover", server.url("/blog/feed.xml").as_str()]);
    assert_success(&feed);
    assert_eq!(stdout(&feed).trim(), server.url("/blog/feed.xml").as_str());

    let none = ws.run(&["discover", server.url("/plain").as_str()]);
    assert_eq!(none.status.code(), Some(1));
    let err = stderr(&none);
    assert!(err.contains("advertises no feed"), "{err}");
    assert!(err.contains(server.url("/plain").as_str()), "{err}");

    let missing = ws.run(&["discover", server.url("/missing").as_str()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("404"), "{}", stderr(&missing));
}

/// discover fetches as a poll does: a redirect into private address space is refused, and
/// `--config`'s [fetch] limits apply.
#[test]
fn discover_fetches_with_the_feeds_guard_and_limits() {
    let target = TestServer::routes([("/", Reply::ok(page_advertising("")))]);
    let q = target.addr().port();
    let server = TestServer::routes([
        (
            "/hop",
            Reply::redirect(302, &format!("http://127.0.0.1:{q}/")),
        ),
        (
            "/huge",
            Reply::ok(page_advertising(
                &"<meta name=\"x\" content=\"padding\">".repeat(40_000),
            )),
        ),
    ]);
    let ws = Workspace::new();
    let hop = ws.run(&["discover", server.url("/hop").as_str()]);
    assert_eq!(hop.status.code(), Some(1));
    let err = stderr(&hop);
    assert!(
        err.contains(&format!(
            "refused: redirect to port {q} of non-public host 127.0.0.1"
        )),
        "{err}"
    );
    assert!(
        target.requests().is_empty(),
        "the refused address was reached"
    );

    // The workspace config caps bodies at 1 MiB; the page is larger.
    let config = ws.write_config("t.toml", &[], "");
    let huge = ws.run(&[
        "--config",
        config.to_str().expect("path"),
        "discover",
        server.url("/huge").as_str(),
    ]);
    assert_eq!(huge.status.code(), Some(1));
    assert!(
        stderr(&huge).contains("body larger than 1048576 bytes"),
        "{}",
        stderr(&huge)
    );
}

/// A feed URL that is a page naming its feed: inspect and poll both point at the feed.
#[test]
fn an_html_page_in_place_of_a_feed_names_the_feed_it_advertises() {
    let server = TestServer::routes([(
        "/",
        Reply::ok(page_advertising(
            "<link rel=\"alternate\" type=\"application/rss+xml\" href=\"/feed.xml\">",
        )),
    )]);
    let advertised = server.url("/feed.xml");
    let ws = Workspace::new();
    let inspect = ws.run(&["inspect", server.url("/").as_str()]);
    assert_eq!(inspect.status.code(), Some(1));
    let err = stderr(&inspect);
    assert!(
        err.contains(&format!(
            "not a feed: looks like an HTML page; it advertises the feed {advertised}"
        )),
        "{err}"
    );

    let config = ws.write_config(
        "t.toml",
        &[("blog", server.url("/").to_string(), "origin")],
        "",
    );
    let config = config.to_str().expect("path");
    let poll = ws.run(&["--config", config, "poll"]);
    assert_success(&poll);
    let err = stderr(&poll);
    assert!(err.contains("feed blog failed"), "{err}");
    assert!(
        err.contains(&format!("it advertises the feed {advertised}")),
        "{err}"
    );
    let status = ws.run(&["--config", config, "status"]);
    assert_success(&status);
    assert!(
        stdout(&status).contains(advertised.as_str()),
        "{}",
        stdout(&status)
    );
}

fn rss(title: &str, items: &[(&str, &str, &str)]) -> String {
    let mut text = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{title}</title><link>https://{title}.example/</link>"
    );
    for (guid, item_title, link) in items {
        text.push_str(&format!(
            "<item><guid>{guid}</guid><title>{item_title}</title><link>{link}</link>\
             <pubDate>Mon, 10 Nov 2025 12:00:00 GMT</pubDate>\
             <description>Notes on {item_title}, by {title}.</description></item>"
        ));
    }
    text.push_str("</channel></rss>");
    text
}

/// `--explain` tells the founder of a story from the founder of a story that folded into it
/// (until an origin item arrives and every mirror is labelled by its relation to the work).
#[test]
fn explain_says_which_member_founded_the_story() {
    const TITLE: &str = "Why small language models win the long tail of enterprise tasks";
    const LINK: &str = "https://essays.example/small-models";
    let server = TestServer::routes([
        (
            "/m1",
            Reply::ok(rss(
                "digest",
                &[("d1", "Small models for the long tail", LINK)],
            )),
        ),
        (
            "/m2",
            Reply::ok(rss(
                "curation",
                &[("c1", TITLE, "https://curation.example/items/77")],
            )),
        ),
        // Its link is the first story's, its title the second's: the two are one work.
        ("/m3", Reply::ok(rss("aggregator", &[("a1", TITLE, LINK)]))),
    ]);
    let ws = Workspace::new();
    let mut feeds = vec![
        ("digest", server.url("/m1").to_string(), "mirror"),
        ("curation", server.url("/m2").to_string(), "mirror"),
    ];
    let first = ws.write_config("first.toml", &feeds, "");
    assert_success(&ws.run(&["--config", first.to_str().expect("path"), "poll"]));
    feeds.push(("aggregator", server.url("/m3").to_string(), "mirror"));
    let second = ws.write_config("second.toml", &feeds, "");
    let second = second.to_str().expect("path");
    assert_success(&ws.run(&["--config", second, "poll"]));

    let list = stdout(&ws.run(&["--config", second, "stories"]));
    assert_eq!(list.lines().count(), 1, "one work, one story: {list}");
    let number = list.split_whitespace().next().expect("story number");
    let explain = ws.run(&["--config", second, "stories", "--explain", number]);
    assert_success(&explain);
    let text = stdout(&explain);
    // Which mirror came first depends on which answered first; either way one founded the
    // story and the other founded the story that folded in.
    assert_eq!(text.matches("founded the story;").count(), 1, "{text}");
    assert_eq!(
        text.matches("founded a story of its own, folded into this one")
            .count(),
        1,
        "{text}"
    );
    assert!(!text.contains("matched by new"), "{text}");
}

/// `[feed_list] opml`: the feeds of an OPML file are polled as `[[feeds]]` tables are, with
/// their roles, and `export --format opml` writes a list that reads back the same.
#[test]
fn a_feed_list_in_an_opml_file_is_polled() {
    let read = |name: &str| std::fs::read(fixture_path(name)).expect("fixture");
    let server = TestServer::routes([
        ("/newsletter", Reply::ok(read("newsletter.xml"))),
        ("/curation", Reply::ok(read("curation.xml"))),
    ]);
    let ws = Workspace::new();
    std::fs::write(
        ws.path("feeds.opml"),
        format!(
            r#"<?xml version="1.0"?>
<opml version="2.0" xmlns:tributary="urn:tributary:opml"><body>
  <outline text="Folder">
    <outline text="newsletter" xmlUrl="{}"/>
    <outline title="curation" xmlUrl="{}" tributary:role="mirror"/>
  </outline>
</body></opml>"#,
            server.url("/newsletter"),
            server.url("/curation")
        ),
    )
    .expect("write the OPML");
    let config = ws.write_config("t.toml", &[], "[feed_list]\nopml = \"feeds.opml\"\n");
    let config = config.to_str().expect("path");

    let check = ws.run(&["--config", config, "check-config"]);
    assert_success(&check);
    let listed = stdout(&check);
    assert!(listed.contains("feed newsletter (origin,"), "{listed}");
    assert!(listed.contains("feed curation (mirror,"), "{listed}");

    let poll = ws.run(&["--config", config, "poll"]);
    assert_success(&poll);
    assert!(
        stdout(&poll).contains("2 feeds: 2 fetched"),
        "{}",
        stdout(&poll)
    );

    let export = ws.run(&["--config", config, "export", "--format", "opml"]);
    assert_success(&export);
    std::fs::write(ws.path("exported.opml"), &export.stdout).expect("write the export");
    let again = ws.write_config("again.toml", &[], "[feed_list]\nopml = \"exported.opml\"\n");
    let check = ws.run(&["--config", again.to_str().expect("path"), "check-config"]);
    assert_success(&check);
    let feeds = |listing: &str| -> Vec<String> {
        listing
            .lines()
            .filter(|line| line.starts_with("feed "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(feeds(&stdout(&check)), feeds(&listed));

    // A name the `[[feeds]]` tables already use is refused, naming the outline.
    let clash = ws.write_config(
        "clash.toml",
        &[("curation", server.url("/other").to_string(), "origin")],
        "[feed_list]\nopml = \"feeds.opml\"\n",
    );
    let refused = ws.run(&["--config", clash.to_str().expect("path"), "check-config"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("feed_list.opml[1].name"),
        "{}",
        stderr(&refused)
    );
}

/// `docker-compose.yml` mounts `config/compose.toml` into both instances: it must stay a valid
/// configuration as the schema moves, name the compose file's database service, and keep its
/// password out of what `check-config` prints.
#[test]
fn the_compose_example_is_a_valid_configuration_for_both_instances() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).expect("compose file");
    assert_eq!(
        compose
            .matches("./config/compose.toml:/etc/tributary/config.toml:ro")
            .count(),
        2,
        "both instances mount the example configuration"
    );
    let ws = Workspace::new();
    let config = root.join("config/compose.toml");
    let output = ws.run(&["--config", config.to_str().expect("path"), "check-config"]);
    assert_success(&output);
    let text = stdout(&output);
    assert!(
        text.contains("database: postgres://tributary@db:5432/tributary"),
        "{text}"
    );
    assert!(
        !text.contains("change-me"),
        "the password is printed: {text}"
    );
}
