//! Who may talk to `wflo serve`: the address it listens on (loopback unless the operator says
//! otherwise AND sets a token), the bearer token every request must then carry, and the Host
//! header a loopback server accepts — so a web page elsewhere cannot rebind its own host name
//! to 127.0.0.1 and read the figures through the visitor's browser.

use std::net::IpAddr;

use crate::exit::{self, CliError};

/// How requests are let in.
#[derive(Debug, Clone)]
pub struct Access {
    /// `Authorization: Bearer` value every request needs, when set.
    pub token: Option<String>,
    /// The address listened on; with no token, only loopback Host names are accepted.
    pub ip: IpAddr,
}

fn usage(message: String) -> CliError {
    CliError {
        exit: exit::USAGE,
        message,
    }
}

/// Checks the listening address against `--allow-remote` and `--token`: loopback needs
/// neither; any other address needs both (a usage error otherwise, before anything listens).
pub fn check_bind(bind: &str, allow_remote: bool, token: Option<&str>) -> Result<IpAddr, CliError> {
    let ip: IpAddr = bind
        .parse()
        .map_err(|_| usage(format!("--bind '{bind}' is not an IP address")))?;
    if let Some(t) = token
        && (t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(usage(
            "--token must be non-empty, without spaces or control characters".into(),
        ));
    }
    if allow_remote && token.is_none() {
        return Err(usage(
            "--allow-remote needs --token TOKEN (or WFLO_SERVE_TOKEN): every request must then carry `Authorization: Bearer TOKEN`".into(),
        ));
    }
    let remote_allowed = allow_remote && token.is_some();
    if !ip.is_loopback() && !remote_allowed {
        return Err(usage(format!(
            "refusing to listen on {ip}: wflo serve listens on loopback only; to serve other machines pass --allow-remote and --token TOKEN"
        )));
    }
    Ok(ip)
}

impl Access {
    /// Whether a request with these headers may be answered: the token when one is set,
    /// else a loopback Host. `Err` is the status to answer with.
    pub fn admit(&self, authorization: Option<&str>, host: Option<&str>) -> Result<(), u16> {
        match &self.token {
            Some(token) => {
                let given = authorization
                    .and_then(|v| {
                        let (scheme, rest) = v.split_once(' ')?;
                        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
                    })
                    .unwrap_or("");
                if constant_time_eq(given.as_bytes(), token.as_bytes()) {
                    Ok(())
                } else {
                    Err(401)
                }
            }
            None => match host {
                Some(h) if !self.host_allowed(h) => Err(403),
                _ => Ok(()),
            },
        }
    }

    /// A Host header naming this machine's loopback (or the address listened on).
    fn host_allowed(&self, host: &str) -> bool {
        let name = match host.strip_prefix('[') {
            // [::1]:8766
            Some(rest) => rest.split(']').next().unwrap_or(""),
            None => match host.rsplit_once(':') {
                Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
                _ => host,
            },
        };
        if name.eq_ignore_ascii_case("localhost") {
            return true;
        }
        name.parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip == self.ip)
    }
}

/// Compares two byte strings in time that depends only on their lengths, not on where they
/// first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_needs_allow_remote_and_a_token() {
        assert!(check_bind("127.0.0.1", false, None).is_ok());
        assert!(check_bind("::1", false, None).is_ok());
        assert!(check_bind("127.0.0.1", false, Some("t0k")).is_ok());
        for (bind, allow, token) in [
            ("0.0.0.0", false, None),
            ("0.0.0.0", true, None),
            ("0.0.0.0", false, Some("t0k")),
            ("127.0.0.1", true, None),
            ("localhost", false, None),
            ("10.0.0.1", true, Some("")),
        ] {
            let e = check_bind(bind, allow, token).unwrap_err();
            assert_eq!(
                e.exit,
                exit::USAGE,
                "{bind} {allow} {token:?}: {}",
                e.message
            );
        }
        assert!(check_bind("0.0.0.0", true, Some("t0k")).is_ok());
    }

    #[test]
    fn the_token_is_required_and_compared_whole() {
        let a = Access {
            token: Some("s3cret".into()),
            ip: "0.0.0.0".parse().unwrap(),
        };
        assert_eq!(a.admit(Some("Bearer s3cret"), Some("evil.example")), Ok(()));
        assert_eq!(a.admit(Some("bearer s3cret"), None), Ok(()));
        for bad in [
            None,
            Some("Bearer s3cre"),
            Some("Bearer s3cret2"),
            Some("s3cret"),
            Some("Basic s3cret"),
        ] {
            assert_eq!(a.admit(bad, None), Err(401), "{bad:?}");
        }
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"a", b""));
    }

    #[test]
    fn without_a_token_only_loopback_host_names_are_answered() {
        let a = Access {
            token: None,
            ip: "127.0.0.1".parse().unwrap(),
        };
        for ok in [
            "127.0.0.1:8766",
            "localhost:1",
            "LOCALHOST",
            "[::1]:80",
            "127.0.0.2",
        ] {
            assert_eq!(a.admit(None, Some(ok)), Ok(()), "{ok}");
        }
        assert_eq!(a.admit(None, None), Ok(()));
        for bad in [
            "evil.example:8766",
            "evil.example",
            "10.0.0.1:8766",
            "127.0.0.1.evil.example",
        ] {
            assert_eq!(a.admit(None, Some(bad)), Err(403), "{bad}");
        }
    }
}
