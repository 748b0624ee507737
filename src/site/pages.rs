//! The pages' markup. Every value is spliced with maud's `(...)`, which escapes it; nothing
//! here writes raw HTML, so no title, summary or error message a feed sends can become markup.
//! Accessibility: one `h1` per page, headings in order, `lang`, every control labelled.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::{FeedStatus, Settings, shell_word, web_link};
use crate::model::ItemKind;
use crate::normalize::plain_text;
use crate::notify::message::truncate_words;
use crate::store::{
    ExplainedStory, MemberLine, SinkDeliveries, SourceRecord, StoryCard, StoryPage,
};

/// Characters of the one-line summary under a story's title.
const SUMMARY_CHARS: usize = 200;

/// Which section a page belongs to, for the navigation's `aria-current`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Stories,
    Feeds,
    Deliveries,
    None,
}

fn layout(settings: &Settings, title: &str, section: Section, body: &Markup) -> Markup {
    let root = settings.root();
    let nav = [
        (Section::Stories, root.to_owned(), "Stories"),
        (Section::Feeds, format!("{root}feeds"), "Feeds"),
        (
            Section::Deliveries,
            format!("{root}deliveries"),
            "Deliveries",
        ),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (settings.title) }
                link rel="stylesheet" href={ (root) "site.css" };
                link rel="alternate" type="application/atom+xml" title=(settings.title)
                    href=(settings.document_url("feed.atom"));
                link rel="alternate" type="application/feed+json" title=(settings.title)
                    href=(settings.document_url("feed.json"));
            }
            body {
                header {
                    nav aria-label="Site" {
                        span.site { (settings.title) }
                        @for (target, href, label) in &nav {
                            a href=(href) aria-current=[(section == *target).then_some("page")] {
                                (label)
                            }
                        }
                    }
                }
                main { (body) }
                footer {
                    p {
                        "Subscribe: "
                        a href=(settings.document_url("feed.atom")) { "Atom" }
                        " · "
                        a href=(settings.document_url("feed.json")) { "JSON Feed" }
                        " · "
                        a href=(settings.document_url("sources.opml")) { "the feeds as OPML" }
                    }
                }
            }
        }
    }
}

fn date(at: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M UTC")) }
    }
}

fn maybe_date(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => date(at),
        None => html! { "never" },
    }
}

/// A title that links out when its link is http(s), and is plain text otherwise.
fn title_link(title: &str, link: Option<&str>) -> Markup {
    let title = if title.trim().is_empty() {
        "(untitled)"
    } else {
        title
    };
    match link.and_then(web_link) {
        Some(href) => html! { a href=(href) { (title) } },
        None => html! { (title) },
    }
}

fn story_href(settings: &Settings, number: i64) -> String {
    format!("{}stories/{number}", settings.root())
}

/// The story's audio: the first episode member's file, as `Story::enclosure` picks it.
fn audio(members: &[MemberLine]) -> Option<(&MemberLine, String)> {
    members
        .iter()
        .filter(|m| m.kind == ItemKind::Episode)
        .find_map(|m| {
            let (url, _) = m.enclosure.as_ref()?;
            Some((m, web_link(url)?))
        })
}

/// The first member's title, which is the story's.
fn story_title(members: &[MemberLine]) -> &str {
    members.first().map_or("(untitled)", |m| m.title.as_str())
}

pub(super) fn index(settings: &Settings, page: &StoryPage, number: usize) -> Markup {
    let root = settings.root();
    let heading = if number == 1 {
        "Latest stories".to_owned()
    } else {
        format!("Stories, page {number}")
    };
    let body = html! {
        h1 { (heading) }
        @if page.stories.is_empty() {
            p { "No stories yet: they appear here after the first poll." }
        }
        @for story in &page.stories {
            (story_card(settings, story))
        }
        @if number > 1 || page.more {
            nav.pages aria-label="Pages" {
                @if number == 2 {
                    a rel="prev" href=(root) { "← Newer stories" }
                } @else if number > 2 {
                    a rel="prev" href={ (root) "?page=" (number - 1) } { "← Newer stories" }
                }
                @if let (true, Some(last)) = (page.more, page.stories.last()) {
                    a rel="next" href={ (root) "?page=" (number + 1) "&after=" (last.number) } {
                        "Older stories →"
                    }
                }
            }
        }
    };
    layout(settings, &heading, Section::Stories, &body)
}

fn story_card(settings: &Settings, story: &StoryCard) -> Markup {
    let title = story_title(&story.members);
    let lead_link = story.members.first().and_then(|m| m.link.as_deref());
    let summary = story
        .summary_html
        .as_deref()
        .map(|html| {
            let text = plain_text(html);
            truncate_words(
                &text.split_whitespace().collect::<Vec<_>>().join(" "),
                SUMMARY_CHARS,
            )
        })
        .filter(|text| !text.is_empty());
    html! {
        article.story {
            h2 { (title_link(title, lead_link)) }
            p.meta {
                (date(story.published))
                " · "
                a href=(story_href(settings, story.number)) { "story " (story.number) ", explained" }
                @if story.corrected {
                    " · " strong.corrected { "corrected by hand" }
                }
            }
            @if let Some(summary) = summary {
                p.summary { (summary) }
            }
            @if let Some((episode, url)) = audio(&story.members) {
                audio controls preload="none" src=(url)
                    aria-label={ "Listen to the episode: " (episode.title) } {
                    a href=(url) { "Download the episode" }
                }
            }
            ul.members {
                @for member in &story.members {
                    li {
                        span.feed { (member.feed) }
                        " "
                        span.role { (member.member_role.as_str()) }
                        " "
                        (title_link(&member.title, member.link.as_deref()))
                        " "
                        (date(member.published))
                    }
                }
            }
        }
    }
}

pub(super) fn explain(settings: &Settings, story: &ExplainedStory) -> Markup {
    let title = story_title(&story.members);
    let command = command_prefix(settings);
    let thresholds = &settings.thresholds;
    let body = html! {
        h1 { (title) }
        @if let Some(folded) = story.folded {
            p.note { "Story " (folded) " was folded into this one, story " (story.number) "." }
        }
        dl.facts {
            dt { "Story" } dd { (story.number) }
            dt { "Atom id" } dd { code { (story.atom_id) } }
            dt { "Published" } dd { (date(story.published)) }
        }
        h2 { "Members, and why each is here" }
        div.scroll {
            table.cards {
                thead {
                    tr {
                        th scope="col" { "Item" }
                        th scope="col" { "Feed" }
                        th scope="col" { "Role" }
                        th scope="col" { "Title" }
                        th scope="col" { "Evidence" }
                        th scope="col" { "Score" }
                    }
                }
                tbody {
                    @for member in &story.members {
                        tr {
                            td data-label="Item" { (member.item) }
                            td data-label="Feed" { (member.feed) " " small { "(" (member.role.as_str()) ")" } }
                            td data-label="Role" { span.role { (member.member_role.as_str()) } }
                            td data-label="Title" { (title_link(&member.title, member.link.as_deref())) " " (date(member.published)) }
                            td data-label="Evidence" { (member.evidence.describe()) " " small { code { (member.evidence.as_str()) } } }
                            td.num data-label="Score" { (format!("{:.2}", member.score)) }
                        }
                    }
                }
            }
        }
        h2 { "Thresholds in force" }
        dl.facts {
            dt { "Title window" }
            dd { (duration(thresholds.title_window)) ": origin items with the same title match only this close in time" }
            dt { "Mirror window" }
            dd { (duration(thresholds.mirror_window)) ": title and quotation evidence involving a mirror counts only this close in time" }
            dt { "Content window" }
            dd { (duration(thresholds.content_window)) ": near-identical text matches only this close in time, and a summary in its own words at most this long after the work" }
            dt { "Content threshold" }
            dd { (thresholds.content_threshold) ": the share of text two items must share to be one work" }
            dt { "Disagreement" }
            dd { "below " (thresholds.disagree_below) ": two long origin texts sharing less than this are different works, whatever their titles" }
            dt { "Shortest text compared" }
            dd { (thresholds.min_shingles) " five-word runs" }
            dt { "Quotations" }
            dd { (thresholds.min_quoted_passages) " passages quoted word for word make a piece coverage of a work" }
        }
        h2 { "Corrections" }
        @if story.corrections.is_empty() {
            p { "None: the matcher grouped this story on its own." }
        } @else {
            ul {
                @for correction in &story.corrections {
                    li { (correction_text(correction, story.number)) " on " (date(correction.at)) }
                }
            }
        }
        h2 { "Correct it" }
        p {
            "This page changes nothing. Where tributary runs, one of these commands corrects the "
            "story, and no later poll undoes it:"
        }
        @if story.members.len() > 1 {
            @for member in &story.members {
                p.command-label {
                    "Move item " (member.item) " (" (member.feed) ", " (member.member_role.as_str())
                    ") into a story of its own:"
                }
                pre { code { (command) " stories split " (member.item) } }
            }
        }
        p.command-label {
            "Fold another story into this one (OTHER is its number, from this site or "
            code { "tributary stories" } "):"
        }
        pre { code { (command) " stories merge " (story.number) " OTHER" } }
    };
    layout(settings, title, Section::None, &body)
}

/// `tributary`, with the daemon's `--config` when it runs with a file.
fn command_prefix(settings: &Settings) -> String {
    match &settings.config_path {
        Some(path) => format!("tributary --config {}", shell_word(&path.to_string_lossy())),
        None => "tributary".to_owned(),
    }
}

fn duration(duration: chrono::Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let seconds = duration.num_seconds();
    match seconds {
        s if s > 0 && s % 86_400 == 0 => plural(s / 86_400, "day"),
        s if s > 0 && s % 3_600 == 0 => plural(s / 3_600, "hour"),
        s => plural(s, "second"),
    }
}

/// A correction told from the side of the story shown, as a sentence.
fn correction_text(correction: &crate::store::Correction, shown: i64) -> String {
    let text = correction.describe(shown);
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

pub(super) fn feeds(settings: &Settings, rows: &[(FeedStatus, SourceRecord)]) -> Markup {
    let body = html! {
        h1 { "Feeds" }
        p { "Each feed's health as of its last poll; feeds in trouble first." }
        div.scroll {
            table.feeds.cards {
                thead {
                    tr {
                        th scope="col" { "Feed" }
                        th scope="col" { "Role" }
                        th scope="col" { "Status" }
                        th scope="col" { "Last success" }
                        th scope="col" { "Last error" }
                        th scope="col" { "Errors in a row" }
                        th scope="col" { "Next poll" }
                        th scope="col" { "Items stored" }
                    }
                }
                tbody {
                    @for (status, source) in rows {
                        tr.trouble[status.is_trouble()] data-status=(status.as_str()) {
                            th scope="row" {
                                (title_link(&source.name, Some(source.fetch_url())))
                            }
                            td data-label="Role" { (source.role.as_str()) }
                            td.status data-label="Status" { (status.as_str())
                                @if let Some(moved) = &source.state.moved_to {
                                    br; small { "now polled at " (moved) }
                                }
                            }
                            td data-label="Last success" { (maybe_date(source.state.last_success_at)) }
                            td data-label="Last error" {
                                @if let Some(error) = &source.state.last_error {
                                    (error)
                                    @if let Some(at) = source.state.last_error_at {
                                        br; small { (date(at)) }
                                    }
                                } @else { "none" }
                            }
                            td.num data-label="Errors in a row" { (source.state.consecutive_errors) }
                            td data-label="Next poll" {
                                @if source.state.gone { "never (gone)" }
                                @else { (maybe_date(source.state.next_due_at)) }
                            }
                            td.num data-label="Items stored" { (source.items_seen) }
                        }
                    }
                }
            }
        }
    };
    layout(settings, "Feeds", Section::Feeds, &body)
}

pub(super) fn deliveries(settings: &Settings, sinks: &[SinkDeliveries]) -> Markup {
    let kind = |name: &str| {
        settings
            .sinks
            .iter()
            .find(|(sink, _)| sink == name)
            .map_or("no longer configured", |(_, kind)| kind.as_str())
    };
    let body = html! {
        h1 { "Deliveries" }
        @if sinks.is_empty() {
            p { "No notification sinks are configured." }
        } @else {
            div.scroll {
                table.sinks.cards {
                    thead {
                        tr {
                            th scope="col" { "Sink" }
                            th scope="col" { "Kind" }
                            th scope="col" { "Pending" }
                            th scope="col" { "Delivered" }
                            th scope="col" { "Dead" }
                        }
                    }
                    tbody {
                        @for sink in sinks {
                            tr.trouble[sink.dead > 0] {
                                th scope="row" { (sink.sink) }
                                td data-label="Kind" { (kind(&sink.sink)) }
                                td.num data-label="Pending" { (sink.pending) }
                                td.num data-label="Delivered" { (sink.delivered) }
                                td.num data-label="Dead" { (sink.dead) }
                            }
                        }
                    }
                }
            }
            @for sink in sinks.iter().filter(|sink| !sink.dead_recent.is_empty()) {
                h2 { "Dead deliveries to " (sink.sink) }
                p { "The newest " (sink.dead_recent.len()) " of " (sink.dead) ", with the error each was given up on." }
                ul.dead {
                    @for dead in &sink.dead_recent {
                        li {
                            a href=(story_href(settings, dead.story)) { "Story " (dead.story) }
                            ", queued " (date(dead.created_at)) ", "
                            (dead.attempts) " attempts: "
                            (dead.error.as_deref().unwrap_or("no error recorded"))
                        }
                    }
                }
            }
        }
    };
    layout(settings, "Deliveries", Section::Deliveries, &body)
}

pub(super) fn error(settings: &Settings, message: &str) -> Markup {
    let body = html! {
        h1 { "Not shown" }
        p { (message) }
        p { a href=(settings.root()) { "The latest stories" } }
    };
    layout(settings, "Not shown", Section::None, &body)
}
