//! A sink's URL, held like a secret: Slack's and Discord's hook URLs are their credentials (the
//! token is the path), and any URL may carry a user and password (ntfy's basic auth).
//!
//! Design decision: a newtype rather than `secrecy::SecretBox<Url>`, because `SecretBox` wants
//! a zeroizable value and `Url` is not one, and because the scheme, host and port are not
//! secret and are exactly what a log line or `check-config` needs to name the sink's server.
//! So `Debug` and `Display` show `scheme://host[:port]` and only [`SinkUrl::expose`] gives the
//! whole URL, to the code that sends the request.

use std::fmt;

use url::Url;

#[derive(Clone, PartialEq, Eq)]
pub struct SinkUrl(Url);

impl SinkUrl {
    pub fn new(url: Url) -> SinkUrl {
        SinkUrl(url)
    }

    /// The whole URL, credentials and all: for building the request, never for a message.
    pub fn expose(&self) -> &Url {
        &self.0
    }
}

impl fmt::Display for SinkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.0;
        f.write_str(url.scheme())?;
        if let Some(host) = url.host_str() {
            write!(f, "://{host}")?;
        }
        if let Some(port) = url.port() {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SinkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SinkUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scheme_host_and_port_are_shown() {
        let url = |text: &str| SinkUrl::new(Url::parse(text).expect("url"));
        let slack = url("https://hooks.slack.com/services/T0/B0/secret");
        assert_eq!(slack.to_string(), "https://hooks.slack.com");
        assert_eq!(format!("{slack:?}"), "SinkUrl(https://hooks.slack.com)");
        let ntfy = url("http://user:pa55@127.0.0.1:8080/topic?auth=tok");
        assert_eq!(ntfy.to_string(), "http://127.0.0.1:8080");
        assert!(ntfy.expose().as_str().contains("pa55"));
    }
}
