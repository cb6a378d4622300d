//! Tests for `keyfile.rs`, on real files in the system temp directory.

use super::*;

/// A fresh, empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("palisade-auth-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn write_then_load_keypair() {
    let dir = TempDir::new("write");
    let keys = dir.0.join("nested/keys");
    let (secret_path, public_path) = write_keypair(&keys).unwrap();
    assert_eq!(secret_path, keys.join("token.secret"));
    assert_eq!(public_path, keys.join("token.public"));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&secret_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let sk = load_secret_key_file(&secret_path).unwrap();
    let pk = load_public_key_file(&public_path).unwrap();
    assert_eq!(sk.public_key(), &pk);

    // Never overwritten: the second attempt fails and changes nothing.
    let before = fs::read_to_string(&secret_path).unwrap();
    let err = write_keypair(&keys).unwrap_err();
    assert!(matches!(err.problem(), KeyFileProblem::Exists));
    assert_eq!(err.path(), public_path);
    assert_eq!(fs::read_to_string(&secret_path).unwrap(), before);

    // With only the secret left, the secret itself is refused.
    fs::remove_file(&public_path).unwrap();
    let err = write_keypair(&keys).unwrap_err();
    assert!(matches!(err.problem(), KeyFileProblem::Exists));
    assert_eq!(err.path(), secret_path);
    assert!(!public_path.exists());
    assert_eq!(fs::read_to_string(&secret_path).unwrap(), before);
}

#[test]
fn key_files_trim_whitespace() {
    let dir = TempDir::new("trim");
    fs::create_dir_all(&dir.0).unwrap();
    let sk = SecretKey::generate().unwrap();
    let path = dir.0.join("pub");
    fs::write(&path, format!("\n  {}\r\n\t", sk.public_key().to_paserk())).unwrap();
    assert_eq!(&load_public_key_file(&path).unwrap(), sk.public_key());
}

#[test]
fn key_file_errors_name_the_file_and_hide_the_key() {
    let dir = TempDir::new("errors");
    fs::create_dir_all(&dir.0).unwrap();
    let sk = SecretKey::generate().unwrap();
    let secret = sk.to_paserk();

    // A secret key where a public one belongs.
    let path = dir.0.join("token.public");
    fs::write(&path, &secret).unwrap();
    let err = load_public_key_file(&path).unwrap_err();
    let shown = err.to_string();
    assert_eq!(
        shown,
        format!("{}: not a k4.public PASERK key", path.display())
    );
    assert!(!format!("{err:?}").contains(&secret[10..]));

    let path = dir.0.join("token.secret");
    fs::write(&path, sk.public_key().to_paserk()).unwrap();
    assert_eq!(
        load_secret_key_file(&path).unwrap_err().to_string(),
        format!("{}: not a k4.secret PASERK key", path.display())
    );

    let missing = dir.0.join("missing");
    let err = load_public_key_file(&missing).unwrap_err();
    assert!(matches!(err.problem(), KeyFileProblem::Read(_)));
    let shown = err.to_string();
    assert!(shown.starts_with(&format!("{}: cannot read: ", missing.display())));
    assert!(!shown.contains('\n'));

    let big = dir.0.join("big");
    fs::write(&big, "k".repeat(2000)).unwrap();
    assert!(matches!(
        load_public_key_file(&big).unwrap_err().problem(),
        KeyFileProblem::TooLarge
    ));
}
