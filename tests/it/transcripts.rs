//! Transcripts as evidence, through the real binary: a newsletter post, and the podcast
//! episode that reads it aloud under another title with only show notes for a description.
//! The episode's `podcast:transcript` is what joins the two into one story.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::common::binary::{Workspace, assert_success, stderr, stdout};
use crate::common::server::{Reply, TestServer};

/// The essay, paragraph by paragraph: the post's text, and what the episode says.
const ESSAY: &[&str] = &[
    "Every few months somebody declares that reward models are finished, that direct preference \
     methods made them a historical curiosity, and every few months the best post-training \
     recipes quietly keep one around anyway.",
    "The reason is mundane once you look at a real pipeline instead of a paper figure. A reward \
     model is the cheapest way to turn a pile of human judgments into a signal you can query a \
     million times without asking another person.",
    "Preference optimisation on a fixed dataset learns from the comparisons it was handed and \
     nothing else. Online methods need fresh comparisons for completions the policy has never \
     produced, and somebody or something has to grade those completions at scale.",
    "That something is usually a learned judge, trained on exactly the judgments the offline \
     method would have consumed directly, which means the reward model never left the building.",
    "What changed is where it sits. It filters synthetic data before fine tuning, it ranks \
     samples for rejection sampling, it scores rollouts for reinforcement learning with \
     verifiable rewards when the verifier cannot cover the whole task.",
    "The uncomfortable part is evaluation. We still measure reward models with accuracy on held \
     out preference pairs, a number that tells you little about whether a policy trained \
     against the model will exploit its blind spots within a few hundred steps.",
    "Until we have benchmarks that measure downstream training outcomes rather than agreement \
     with annotators, choosing a reward model will stay closer to folklore than engineering, \
     and open labs will keep rediscovering the same failure modes.",
    "So when the next announcement arrives saying the reward model is dead, read the appendix \
     first and count how many learned judges are hiding in the training loop.",
];

fn essay_text() -> String {
    ESSAY.join(" ")
}

fn post_feed(base: &str) -> String {
    let paragraphs: String = ESSAY
        .iter()
        .map(|p| format!("&lt;p&gt;{p}&lt;/p&gt;"))
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Lab notes</title>\
         <link>{base}/</link><description>Essays</description>\
         <item><title>Why reward models still matter</title>\
         <link>{base}/p/reward-models</link><guid>{base}/p/reward-models</guid>\
         <pubDate>Tue, 14 Apr 2026 09:00:00 GMT</pubDate>\
         <description>{paragraphs}</description></item></channel></rss>"
    )
}

/// The podcast feed: one episode whose description is show notes; `transcript` is the
/// `podcast:transcript` element, if any.
fn podcast_feed(base: &str, notes: &str, transcript: Option<(&str, &str)>) -> String {
    let transcript = transcript
        .map(|(url, mime)| format!("<podcast:transcript url=\"{url}\" type=\"{mime}\"/>"))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\" \
         xmlns:podcast=\"https://podcastindex.org/namespace/1.0\"><channel>\
         <title>Lab notes, read aloud</title><link>{base}/podcast</link><description>Audio</description>\
         <item><title>Episode 12: notes from the lab</title>\
         <link>{base}/episodes/12</link><guid>episode-12</guid>\
         <pubDate>Wed, 15 Apr 2026 07:00:00 GMT</pubDate>\
         <description>{notes}</description>\
         <enclosure url=\"{base}/audio/12.mp3\" type=\"audio/mpeg\" length=\"123456\"/>\
         {transcript}</item></channel></rss>"
    )
}

const NOTES: &str = "Show notes: this week on the show. Links to the lab and a new dataset. \
                     Thanks to our sponsor.";

/// The essay as WebVTT captions, a dozen words a cue, with a spoken intro, speaker tags, and
/// what reading aloud adds: an "um" every 25 words, a number said another way.
fn vtt() -> String {
    let read = essay_text()
        .replace("a million times", "a million, uh, times")
        .replace("a few hundred steps", "two or three hundred steps");
    let spoken = format!("Hello and welcome, this is the audio edition. {read}");
    let words: Vec<&str> = spoken
        .split(' ')
        .enumerate()
        .flat_map(|(i, word)| {
            let um = (i % 25 == 24).then_some("um");
            std::iter::once(word).chain(um)
        })
        .collect();
    let mut out = String::from("WEBVTT\n\nNOTE read by the author\n\n");
    for (i, cue) in words.chunks(12).enumerate() {
        out.push_str(&format!(
            "{}\n00:{:02}:{:02}.000 --> 00:{:02}:{:02}.500\n<v Nathan Lambert>{}</v>\n\n",
            i + 1,
            i / 60,
            i % 60,
            i / 60,
            i % 60,
            cue.join(" ")
        ));
    }
    out
}

/// The essay as SubRip subtitles, with a speaker label on the first line.
fn srt() -> String {
    let words: Vec<&str> = ESSAY.iter().flat_map(|p| p.split(' ')).collect();
    let mut out = String::new();
    for (i, cue) in words.chunks(10).enumerate() {
        let label = if i == 0 { "NATHAN: " } else { "" };
        out.push_str(&format!(
            "{}\n00:00:{:02},000 --> 00:00:{:02},900\n{label}{}\n\n",
            i + 1,
            i % 60,
            i % 60,
            cue.join(" ")
        ));
    }
    out
}

/// The stories `stories --json` lists: per story, its members' feeds, sorted.
fn stories(ws: &Workspace, config: &std::path::Path) -> Vec<Vec<String>> {
    let output = ws.run(&[
        "--config",
        config.to_str().expect("path"),
        "stories",
        "--json",
    ]);
    assert_success(&output);
    let mut stories: Vec<Vec<String>> = stdout(&output)
        .lines()
        .map(|line| {
            let story: serde_json::Value = serde_json::from_str(line).expect("a JSON story");
            let mut feeds: Vec<String> = story["members"]
                .as_array()
                .expect("members")
                .iter()
                .map(|m| m["feed"].as_str().expect("feed").to_owned())
                .collect();
            feeds.sort();
            feeds
        })
        .collect();
    stories.sort();
    stories
}

fn poll(ws: &Workspace, config: &std::path::Path) -> String {
    let output = ws.run(&["--config", config.to_str().expect("path"), "poll"]);
    assert_success(&output);
    stderr(&output)
}

/// The two feeds and a transcript, served from one local server whose podcast feed and
/// transcript the test can change.
struct Site {
    server: TestServer,
    podcast: Arc<Mutex<String>>,
}

impl Site {
    fn start(transcript: Reply) -> Site {
        let podcast = Arc::new(Mutex::new(String::new()));
        let served = Arc::clone(&podcast);
        let post: Arc<Mutex<String>> = Arc::default();
        let post_body = Arc::clone(&post);
        let server = TestServer::start(move |request| match request.path() {
            "/blog.xml" => Reply::ok(post_body.lock().clone()),
            "/podcast.xml" => Reply::ok(served.lock().clone()),
            path if path.starts_with("/t/") => transcript.clone(),
            _ => Reply::not_found(),
        });
        let base = Self::base_of(&server);
        *post.lock() = post_feed(&base);
        Site { server, podcast }
    }

    fn base_of(server: &TestServer) -> String {
        server.url("/").as_str().trim_end_matches('/').to_owned()
    }

    fn base(&self) -> String {
        Self::base_of(&self.server)
    }

    fn set_podcast(&self, notes: &str, transcript: Option<(&str, &str)>) {
        *self.podcast.lock() = podcast_feed(&self.base(), notes, transcript);
    }

    fn transcript_requests(&self) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r.path().starts_with("/t/"))
            .count()
    }

    /// A config listing the feeds in `order` ("blog", "podcast"), both origins, with
    /// transcripts on unless `extra` says otherwise.
    fn config(&self, ws: &Workspace, order: [&str; 2], extra: &str) -> std::path::PathBuf {
        let url = |name: &str| self.server.url(&format!("/{name}.xml")).to_string();
        let feeds: Vec<(&str, String, &str)> = order
            .iter()
            .map(|name| (*name, url(name), "origin"))
            .collect();
        // On, as by default (the test helper turns them off unless told).
        let extra = if extra.is_empty() {
            "[transcripts]\n"
        } else {
            extra
        };
        ws.write_config("t.toml", &feeds, extra)
    }
}

fn joined() -> Vec<Vec<String>> {
    vec![vec!["blog".to_owned(), "podcast".to_owned()]]
}

fn apart() -> Vec<Vec<String>> {
    vec![vec!["blog".to_owned()], vec!["podcast".to_owned()]]
}

#[test]
fn an_episode_of_show_notes_joins_its_post_by_its_webvtt_transcript_fetched_once() {
    let site = Site::start(Reply::ok(vtt()).header("Content-Type", "text/vtt"));
    let transcript = format!("{}/t/12.vtt", site.base());
    site.set_podcast(NOTES, Some((&transcript, "text/vtt")));
    let ws = Workspace::new();
    // The episode is stored first; the post finds it by the transcript's words.
    let config = site.config(&ws, ["podcast", "blog"], "");
    let log = poll(&ws, &config);
    assert_eq!(stories(&ws, &config), joined(), "{log}");
    assert_eq!(site.transcript_requests(), 1);
    assert!(log.contains("transcript fetched"), "{log}");
    let output = ws.run(&[
        "--config",
        config.to_str().expect("path"),
        "stories",
        "--json",
    ]);
    let story: serde_json::Value =
        serde_json::from_str(stdout(&output).trim()).expect("one JSON story");
    let post = &story["members"][0];
    assert_eq!(post["feed"], "blog", "the post leads: {story}");
    assert_eq!(post["evidence"], "content", "{story}");
    println!(
        "post joined the episode's WebVTT transcript (read aloud, with fillers), containment {:.3}",
        post["score"].as_f64().expect("score")
    );

    // The show notes are edited: the episode is read again, its transcript comes from the
    // store (this `poll` is a new process: a restart), and it stays with its post.
    site.set_podcast(
        &format!("{NOTES} Corrected link."),
        Some((&transcript, "text/vtt")),
    );
    let log = poll(&ws, &config);
    assert!(
        log.contains("updated=1"),
        "the episode was read again: {log}"
    );
    assert_eq!(stories(&ws, &config), joined(), "{log}");
    assert_eq!(site.transcript_requests(), 1, "fetched once: {log}");
    // A third poll with nothing new asks nothing either.
    poll(&ws, &config);
    assert_eq!(site.transcript_requests(), 1);
}

#[test]
fn an_episode_stored_after_its_post_joins_it_by_its_srt_transcript() {
    let site = Site::start(Reply::ok(srt()).header("Content-Type", "application/x-subrip"));
    let transcript = format!("{}/t/12.srt", site.base());
    site.set_podcast(NOTES, Some((&transcript, "application/x-subrip")));
    let ws = Workspace::new();
    let config = site.config(&ws, ["blog", "podcast"], "");
    let log = poll(&ws, &config);
    assert_eq!(stories(&ws, &config), joined(), "{log}");
    let output = ws.run(&[
        "--config",
        config.to_str().expect("path"),
        "stories",
        "--json",
    ]);
    let story: serde_json::Value =
        serde_json::from_str(stdout(&output).trim()).expect("one JSON story");
    let episode = story["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["feed"] == "podcast")
        .expect("the episode is a member");
    assert_eq!(episode["member_role"], "episode");
    // Joined by the shared text: the transcript's words hold nearly every run of the post's.
    assert_eq!(episode["evidence"], "content", "{episode}");
    let score = episode["score"].as_f64().expect("score");
    println!("episode joined by its SRT transcript, containment {score:.3}");
    assert!(score > 0.9, "{episode}");
}

#[test]
fn without_its_transcript_the_episode_stays_apart() {
    // The same episode without a transcript: nothing else ties it to the post.
    let site = Site::start(Reply::ok(vtt()).header("Content-Type", "text/vtt"));
    site.set_podcast(NOTES, None);
    let ws = Workspace::new();
    let config = site.config(&ws, ["podcast", "blog"], "");
    poll(&ws, &config);
    assert_eq!(stories(&ws, &config), apart());

    // With the transcript, but transcripts turned off: not fetched, still apart.
    let transcript = format!("{}/t/12.vtt", site.base());
    site.set_podcast(NOTES, Some((&transcript, "text/vtt")));
    let ws = Workspace::new();
    let config = site.config(&ws, ["podcast", "blog"], "[transcripts]\nenabled = false\n");
    let checked = ws.run(&["--config", config.to_str().expect("path"), "check-config"]);
    assert!(stdout(&checked).contains("transcripts: off"), "{checked:?}");
    poll(&ws, &config);
    assert_eq!(stories(&ws, &config), apart());
    assert_eq!(site.transcript_requests(), 0);
}

#[test]
fn a_transcript_over_the_size_cap_is_refused_and_not_asked_again() {
    // The workspace's config caps bodies at 1 MiB.
    let huge = "word ".repeat(300_000);
    let site = Site::start(Reply::ok(huge).header("Content-Type", "text/plain"));
    let transcript = format!("{}/t/12.txt", site.base());
    site.set_podcast(NOTES, Some((&transcript, "text/plain")));
    let ws = Workspace::new();
    let config = site.config(&ws, ["podcast", "blog"], "");
    let log = poll(&ws, &config);
    assert!(log.contains("transcript not fetched"), "{log}");
    assert!(log.contains("body larger than 1048576 bytes"), "{log}");
    assert_eq!(stories(&ws, &config), apart());

    // The failure is remembered: an edited episode does not ask again the same day.
    site.set_podcast(
        &format!("{NOTES} Edited."),
        Some((&transcript, "text/plain")),
    );
    poll(&ws, &config);
    assert_eq!(site.transcript_requests(), 1);
}

#[test]
fn a_transcript_on_another_private_service_is_refused_unasked() {
    // The feeds are on 127.0.0.1 (the admin's choice); a transcript on another local port is
    // not, and is never requested.
    let elsewhere = TestServer::start(|_| Reply::ok(vtt()).header("Content-Type", "text/vtt"));
    let site = Site::start(Reply::not_found());
    let transcript = elsewhere.url("/t/12.vtt").to_string();
    site.set_podcast(NOTES, Some((&transcript, "text/vtt")));
    let ws = Workspace::new();
    let config = site.config(&ws, ["podcast", "blog"], "");
    let log = poll(&ws, &config);
    assert!(
        log.contains("refused: a non-public address on another service than the feed's"),
        "{log}"
    );
    assert!(elsewhere.requests().is_empty());
    assert_eq!(stories(&ws, &config), apart());

    // Allowed private networks, it is fetched and joins the episode to its post.
    let ws = Workspace::new();
    let config = site.config(&ws, ["podcast", "blog"], "");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace(
            "max_body = \"1MiB\"\n",
            "max_body = \"1MiB\"\nallow_private_networks = true\n",
        ),
    )
    .expect("write config");
    let log = poll(&ws, &config);
    assert_eq!(elsewhere.requests().len(), 1, "{log}");
    assert_eq!(stories(&ws, &config), joined(), "{log}");
}

#[test]
fn a_transcript_host_that_never_answers_does_not_hold_the_poll() {
    let site = Site::start(Reply::Hang);
    let transcript = format!("{}/t/12.vtt", site.base());
    site.set_podcast(NOTES, Some((&transcript, "text/vtt")));
    let ws = Workspace::new();
    let config = site.config(&ws, ["podcast", "blog"], "");
    // The workspace's fetch deadline is 3 s: the poll gives up on the transcript then and
    // stores both feeds.
    let log = poll(&ws, &config);
    assert!(
        log.contains("transcript not fetched")
            && (log.contains("timed out after 3s") || log.contains("within the feed's deadline")),
        "{log}"
    );
    assert_eq!(stories(&ws, &config), apart());
}

#[test]
fn an_episode_whose_transcript_comes_later_joins_its_post_then() {
    let site = Site::start(Reply::ok(vtt()).header("Content-Type", "text/vtt"));
    site.set_podcast(NOTES, None);
    let ws = Workspace::new();
    let config = site.config(&ws, ["podcast", "blog"], "");
    poll(&ws, &config);
    assert_eq!(stories(&ws, &config), apart());

    // The host publishes the transcript hours later: the edited episode is asked again with
    // its words, and its story folds with the post's.
    let transcript = format!("{}/t/12.vtt", site.base());
    site.set_podcast(NOTES, Some((&transcript, "text/vtt")));
    let log = poll(&ws, &config);
    assert!(
        log.contains("an episode's transcript shows it is this work"),
        "{log}"
    );
    assert_eq!(stories(&ws, &config), joined(), "{log}");
    assert_eq!(site.transcript_requests(), 1);
}
