//! `[cluster]`: which Redis the node shares its rooms through, under what
//! name, and with which key prefix. Parsed even in a build without the
//! `cluster` feature, so such a build can refuse the section with a clear
//! line instead of a TOML error.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The `[cluster]` section.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `redis://[user:password@]host:port/db` or `rediss://…` (TLS).
    pub redis: String,
    /// This node's name in presence entries and logs. Default: the host name.
    #[serde(default = "default_node")]
    pub node: String,
    /// Prefix of every Redis key and channel, so several deployments can
    /// share one Redis. Default `palisade`.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// A file holding the Redis password (instead of putting it in the
    /// URL); one line, surrounding whitespace ignored.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// Never prints the password: neither the URL's nor the file's contents.
impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("redis", &redacted(&self.redis))
            .field("node", &self.node)
            .field("prefix", &self.prefix)
            .field("password_file", &self.password_file)
            .finish()
    }
}

fn default_node() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| valid_node(name))
        .unwrap_or_else(|| "node".to_owned())
}

fn default_prefix() -> String {
    "palisade".to_owned()
}

fn valid_node(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The URL with any user/password part replaced by `***`: what logs and
/// error messages show.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

impl ClusterConfig {
    /// Joins a relative `password_file` to the config file's folder.
    pub(crate) fn resolve(&mut self, base: &Path) {
        if let Some(file) = &mut self.password_file {
            *file = base.join(&*file);
        }
    }

    /// Checks what needs no network.
    ///
    /// # Errors
    /// A message naming the key and the rule it breaks.
    pub fn validate(&self) -> Result<(), String> {
        if !cfg!(feature = "cluster") {
            return Err("cluster needs palisade built with the `cluster` feature".into());
        }
        if !(self.redis.starts_with("redis://") || self.redis.starts_with("rediss://")) {
            return Err(format!(
                "cluster.redis {} is not a redis:// or rediss:// URL",
                redacted(&self.redis)
            ));
        }
        if !valid_node(&self.node) {
            return Err("cluster.node must be 1 to 64 bytes from [A-Za-z0-9._-]".into());
        }
        let prefix_ok = !self.prefix.is_empty()
            && self.prefix.len() <= 32
            && self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !prefix_ok {
            return Err("cluster.prefix must be 1 to 32 bytes from [A-Za-z0-9._-]".into());
        }
        if self.password_file.is_some() && redacted(&self.redis) != self.redis {
            return Err(
                "cluster: a password both in cluster.redis and cluster.password_file; keep one"
                    .into(),
            );
        }
        Ok(())
    }

    /// The password from `password_file`, if one is named.
    ///
    /// # Errors
    /// A line naming the file and why it cannot be used (never its content).
    #[cfg(feature = "cluster")]
    pub(crate) fn file_password(&self) -> Result<Option<String>, String> {
        let Some(file) = &self.password_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("{}: cannot read the Redis password: {e}", file.display()))?;
        let password = text.trim();
        if password.is_empty() || password.contains(['\n', '\r']) {
            return Err(format!(
                "{}: must hold the Redis password on one line",
                file.display()
            ));
        }
        Ok(Some(password.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(redis: &str) -> ClusterConfig {
        ClusterConfig {
            redis: redis.to_owned(),
            node: "node-a".to_owned(),
            prefix: default_prefix(),
            password_file: None,
        }
    }

    #[test]
    fn the_password_never_shows() {
        let c = config("rediss://app:s3cret-pw@redis.internal:6380/2");
        assert_eq!(redacted(&c.redis), "rediss://***@redis.internal:6380/2");
        assert!(!format!("{c:?}").contains("s3cret-pw"));
        let bad = config("http://:s3cret-pw@x/");
        let problem = bad.validate().unwrap_err();
        assert!(!problem.contains("s3cret-pw"), "{problem}");
        assert_eq!(redacted("redis://h:1/0"), "redis://h:1/0");
    }

    #[test]
    fn rules_name_the_key() {
        assert_eq!(config("redis://127.0.0.1:6379/0").validate(), Ok(()));
        let mut c = config("redis://h/0");
        c.node = "a b".into();
        assert!(c.validate().unwrap_err().starts_with("cluster.node"));
        let mut c = config("redis://h/0");
        c.prefix = String::new();
        assert!(c.validate().unwrap_err().starts_with("cluster.prefix"));
        let mut c = config("redis://:pw@h/0");
        c.password_file = Some("pw".into());
        assert!(c.validate().unwrap_err().contains("password_file"));
    }

    #[test]
    fn a_password_file_is_one_line() {
        let dir = std::env::temp_dir().join(format!("palisade-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("redis.pw");
        std::fs::write(&file, "hunter2\n").unwrap();
        let mut c = config("redis://h/0");
        c.password_file = Some(file.clone());
        assert_eq!(c.file_password(), Ok(Some("hunter2".to_owned())));
        std::fs::write(&file, "a\nb\n").unwrap();
        let problem = c.file_password().unwrap_err();
        assert!(
            problem.contains("redis.pw") && problem.contains("one line"),
            "{problem}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
