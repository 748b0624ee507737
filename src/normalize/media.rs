//! What an attached file is: audio or video (which makes an item an episode), an image, or
//! something else; and how long an episode runs.
//!
//! The decision rests on the declared MIME type, and only when that is missing or says nothing
//! (`application/octet-stream`) on the file extension. Substack attaches every post's cover
//! image as an `image/jpeg` enclosure, so "has an enclosure" must never mean "is an episode".

/// The type of a file by its extension, for enclosures the feed gave none (newsboat and other
/// podcast clients ignore an enclosure without one). Registered types where there is one;
/// an extension not listed gets no type.
const EXTENSION_TYPES: &[(&str, &str)] = &[
    ("mp3", "audio/mpeg"),
    ("mpga", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("m4b", "audio/mp4"),
    ("aac", "audio/aac"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/opus"),
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("mkv", "video/x-matroska"),
    ("ogv", "video/ogg"),
    ("avi", "video/x-msvideo"),
    ("pdf", "application/pdf"),
    ("epub", "application/epub+zip"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("svg", "image/svg+xml"),
];

/// The type without parameters, lower-cased; `None` when it carries no information.
fn useful_mime(mime: Option<&str>) -> Option<String> {
    let essence = mime?.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        ""
        | "application/octet-stream"
        | "binary/octet-stream"
        | "application/unknown"
        | "unknown" => None,
        _ => Some(essence),
    }
}

/// The extension of the URL's last path segment, lower-cased.
fn extension(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let segment = path.rsplit('/').next()?;
    let (_, ext) = segment.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// The type its extension says a file has ([`EXTENSION_TYPES`]).
pub fn type_by_extension(url: &str) -> Option<&'static str> {
    let ext = extension(url)?;
    EXTENSION_TYPES
        .iter()
        .find(|(known, _)| *known == ext)
        .map(|(_, mime)| *mime)
}

/// The file's type: the declared one when it says something, else the one its extension
/// implies, else whatever was declared.
pub(crate) fn file_type(mime: Option<&str>, url: &str) -> Option<String> {
    let declared = mime.map(str::trim).filter(|m| !m.is_empty());
    match useful_mime(declared) {
        Some(_) => declared.map(String::from),
        None => type_by_extension(url)
            .map(String::from)
            .or_else(|| declared.map(String::from)),
    }
}

/// Whether a file is audio or video: by its type when the feed gave a useful one, else by its
/// extension.
pub(crate) fn is_audio_video(mime: Option<&str>, url: &str) -> bool {
    useful_mime(mime)
        .or_else(|| type_by_extension(url).map(String::from))
        .is_some_and(|mime| mime.starts_with("audio/") || mime.starts_with("video/"))
}

/// Whether a file is an image, by the same rule.
pub(crate) fn is_image(mime: Option<&str>, url: &str) -> bool {
    useful_mime(mime)
        .or_else(|| type_by_extension(url).map(String::from))
        .is_some_and(|mime| mime.starts_with("image/"))
}

/// Seconds from an `itunes:duration`: `"1:02:03"`, `"62:03"`, `"3723"`, with an optional
/// fraction (`"3723.5"`, dropped). `None` for anything else (`"1h"`, `"-5"`, `""`).
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let parts: Vec<&str> = text.split(':').map(str::trim).collect();
    if parts.len() > 3 {
        return None;
    }
    let (last, leading) = parts.split_last()?;
    let seconds = whole_seconds(last)?;
    let mut total: u64 = 0;
    for part in leading {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        total = total
            .checked_mul(60)?
            .checked_add(part.parse::<u64>().ok()?)?;
    }
    total.checked_mul(60)?.checked_add(seconds)
}

/// `"12"` or `"12.5"` -> 12.
fn whole_seconds(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    whole.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1:02:03"), Some(3723));
        assert_eq!(parse_duration("62:03"), Some(3723));
        assert_eq!(parse_duration("3723"), Some(3723));
        assert_eq!(parse_duration(" 3723.9 "), Some(3723));
        assert_eq!(parse_duration("00:45"), Some(45));
        assert_eq!(parse_duration("1:02:03.250"), Some(3723));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("1h"), None);
        assert_eq!(parse_duration("-5"), None);
        assert_eq!(parse_duration("1:2:3:4"), None);
        assert_eq!(parse_duration("::"), None);
        assert_eq!(parse_duration("99999999999999999999"), None);
    }

    #[test]
    fn kinds_by_type() {
        assert!(is_audio_video(Some("audio/mpeg"), "https://x/a"));
        assert!(is_audio_video(Some("video/mp4; codecs=x"), "https://x/a"));
        assert!(is_audio_video(Some("AUDIO/X-M4A"), "https://x/a"));
        assert!(!is_audio_video(Some("image/jpeg"), "https://x/a.mp3"));
        assert!(is_image(Some("image/jpeg"), "https://x/a"));
    }

    #[test]
    fn kinds_by_extension_when_type_is_missing_or_generic() {
        assert!(is_audio_video(None, "https://x/ep1.mp3?dl=1"));
        assert!(is_audio_video(Some(""), "https://x/ep1.M4A"));
        assert!(is_audio_video(
            Some("application/octet-stream"),
            "https://x/v.mp4#t"
        ));
        assert!(!is_audio_video(None, "https://x/cover.jpg"));
        assert!(!is_audio_video(None, "https://x/mp3/"));
        assert!(is_image(None, "https://x/cover.JPG"));
        assert!(!is_image(None, "https://x/ep.mp3"));
    }

    #[test]
    fn types_inferred_only_where_none_was_useful() {
        assert_eq!(
            file_type(None, "https://x/ep1.mp3?dl=1").as_deref(),
            Some("audio/mpeg")
        );
        assert_eq!(
            file_type(Some(" "), "https://x/e.OPUS").as_deref(),
            Some("audio/opus")
        );
        assert_eq!(
            file_type(Some("application/octet-stream"), "https://x/v.mov").as_deref(),
            Some("video/quicktime")
        );
        assert_eq!(
            file_type(Some("audio/x-m4a"), "https://x/a.mp3").as_deref(),
            Some("audio/x-m4a"),
            "a declared type is kept"
        );
        assert_eq!(
            file_type(None, "https://x/notes.pdf").as_deref(),
            Some("application/pdf")
        );
        assert_eq!(file_type(None, "https://x/file.xyz"), None);
        assert_eq!(file_type(None, "https://x/mp3/"), None);
        assert_eq!(
            file_type(Some("application/octet-stream"), "https://x/blob").as_deref(),
            Some("application/octet-stream")
        );
    }
}
