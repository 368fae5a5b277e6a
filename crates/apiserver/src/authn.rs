//! Who is calling: x509 client certificates (CN = user, O = groups) and a
//! static token file (upstream's `--token-auth-file`: CSV lines
//! `token,user,uid,"group1,group2"`).
//!
//! The TLS layer has already verified a presented certificate against the
//! cluster CA; here it is only read. Bearer tokens that are neither static
//! nor valid go on to the bootstrap token authenticator
//! ([`crate::bootstrap_token`]), which reads its Secret from the store.

use std::collections::HashMap;
use std::path::Path;

use x509_parser::prelude::{FromDer, X509Certificate};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// e.g. `admin`, `system:kube-scheduler`.
    pub name: String,
    /// e.g. `system:masters`; every authenticated user is also in
    /// `system:authenticated`.
    pub groups: Vec<String>,
}

impl User {
    /// A user in `groups` and `system:authenticated`.
    pub(crate) fn new(name: String, mut groups: Vec<String>) -> Self {
        groups.push("system:authenticated".to_string());
        User { name, groups }
    }
}

/// Why the token file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file could not be read.
    #[error("reading token file: {0}")]
    Io(#[from] std::io::Error),
    /// A line has fewer than three fields.
    #[error("token file line {line}: need at least token,user,uid")]
    Malformed {
        /// 1-based line number.
        line: usize,
    },
}

/// Maps credentials to users.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    tokens: HashMap<String, User>,
}

impl Authenticator {
    /// An authenticator that knows only client certificates.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the tokens of a static token file.
    pub fn with_token_file(mut self, path: &Path) -> Result<Self, TokenFileError> {
        let text = std::fs::read_to_string(path)?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv(line);
            let (token, user) = match fields.as_slice() {
                [token, user, _uid, ..] if !token.is_empty() && !user.is_empty() => {
                    (token.clone(), user.clone())
                }
                _ => return Err(TokenFileError::Malformed { line: i + 1 }),
            };
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            self.tokens.insert(token, User::new(user, groups));
        }
        Ok(self)
    }

    /// Adds one token.
    pub fn with_token(mut self, token: &str, user: &str, groups: &[&str]) -> Self {
        self.tokens.insert(
            token.to_string(),
            User::new(
                user.to_string(),
                groups.iter().map(|g| g.to_string()).collect(),
            ),
        );
        self
    }

    /// The user of a request: the verified client certificate wins, then a
    /// bearer token. `None`: unauthenticated.
    pub fn authenticate(
        &self,
        client_cert_der: Option<&[u8]>,
        authorization: Option<&str>,
    ) -> Option<User> {
        if let Some(user) = client_cert_der.and_then(user_of_cert) {
            return Some(user);
        }
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        self.tokens.get(token).cloned()
    }
}

impl Authenticator {
    /// [`Authenticator::authenticate`], then bootstrap tokens looked up in
    /// `registry` (upstream's union authenticator tries them in turn).
    pub async fn authenticate_request(
        &self,
        registry: &crate::registry::Registry,
        client_cert_der: Option<&[u8]>,
        authorization: Option<&str>,
    ) -> Option<User> {
        if let Some(user) = self.authenticate(client_cert_der, authorization) {
            return Some(user);
        }
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        crate::bootstrap_token::authenticate(registry, token).await
    }
}

/// CN → name, each O → a group.
fn user_of_cert(der: &[u8]) -> Option<User> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .map(String::from)
        .collect();
    Some(User::new(name, groups))
}

/// Splits one CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    fields.push(current);
    fields.into_iter().map(|f| f.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_line_gives_user_and_groups() {
        let dir = tempfile::tempdir().expect("should succeed");
        let path = dir.path().join("tokens.csv");
        std::fs::write(
            &path,
            "# comment\nsecret,alice,1,\"dev,ops\"\nother,bob,2\n",
        )
        .expect("should succeed");
        let authn = Authenticator::new()
            .with_token_file(&path)
            .expect("should succeed");
        let alice = authn
            .authenticate(None, Some("Bearer secret"))
            .expect("should succeed");
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.groups, vec!["dev", "ops", "system:authenticated"]);
        assert_eq!(
            authn
                .authenticate(None, Some("Bearer other"))
                .expect("should succeed")
                .name,
            "bob"
        );
    }

    #[test]
    fn unknown_or_missing_credentials_are_unauthenticated() {
        let authn = Authenticator::new().with_token("t", "u", &[]);
        assert_eq!(authn.authenticate(None, None), None);
        assert_eq!(authn.authenticate(None, Some("Bearer nope")), None);
        assert_eq!(authn.authenticate(None, Some("Basic dTpw")), None);
        assert_eq!(authn.authenticate(Some(b"not a cert"), None), None);
    }

    #[test]
    fn a_malformed_token_line_is_refused() {
        let dir = tempfile::tempdir().expect("should succeed");
        let path = dir.path().join("tokens.csv");
        std::fs::write(&path, "onlytoken\n").expect("should succeed");
        assert!(matches!(
            Authenticator::new().with_token_file(&path),
            Err(TokenFileError::Malformed { line: 1 })
        ));
    }
}
