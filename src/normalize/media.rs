//! What an attached file is: audio or video (which makes an item an episode), an image, or
//! something else; and how long an episode runs.
//!
//! The decision rests on the declared MIME type, and only when that is missing or says nothing
//! (`application/octet-stream`) on the file extension. Substack attaches every post's cover
//! image as an `image/jpeg` enclosure, so "has an enclosure" must never mean "is an episode".

/// Extensions of audio and video files, for enclosures without a useful type.
const AV_EXTENSIONS: &[&str] = &[
    "mp3", "m4a", "m4b", "aac", "ogg", "oga", "opus", "wav", "flac", "mpga", "mp4", "m4v", "mov",
    "webm", "mkv", "ogv", "avi",
];

const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif", "webp", "avif", "svg"];

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

/// Whether a file is audio or video: by its type when the feed gave a useful one, else by its
/// extension.
pub(crate) fn is_audio_video(mime: Option<&str>, url: &str) -> bool {
    match useful_mime(mime) {
        Some(mime) => mime.starts_with("audio/") || mime.starts_with("video/"),
        None => extension(url).is_some_and(|ext| AV_EXTENSIONS.contains(&ext.as_str())),
    }
}

/// Whether a file is an image, by the same rule.
pub(crate) fn is_image(mime: Option<&str>, url: &str) -> bool {
    match useful_mime(mime) {
        Some(mime) => mime.starts_with("image/"),
        None => extension(url).is_some_and(|ext| IMAGE_EXTENSIONS.contains(&ext.as_str())),
    }
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
}
