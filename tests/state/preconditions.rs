//! Which S3 preconditions the real Garage (2.5) enforces, pinned: the run lease and the lock are
//! designed from these facts (README "State backends"), so a Garage that starts enforcing
//! conditional writes fails here and the design can use them.
//!
//! Read from Garage's source (`garage_api_s3`): `get.rs` checks `If-Match`, `If-None-Match`,
//! `If-Modified-Since` and `If-Unmodified-Since` on GET and HEAD, and `x-amz-copy-source-if-*`
//! on the source of a copy (`copy.rs`); `put.rs` `handle_put` and the destination of a copy
//! take no precondition, and a part copy needs a source of at least 5 MiB.

use std::future::Future;

use object_store::aws::{AmazonS3, S3CopyIfNotExists};
use object_store::path::Path;
use object_store::{
    GetOptions, ObjectStore as _, ObjectStoreExt as _, PutMode, PutOptions, PutPayload,
    UpdateVersion,
};

use meltc::runtime::state::Environment;
use meltc::runtime::state::s3_config::S3Config;
use meltc::runtime::state::uri::BackendUri;

use super::garage_settings;
use crate::support::garage::Garage;

fn store(garage: &Garage, copy: Option<S3CopyIfNotExists>) -> AmazonS3 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = garage_settings(garage, "preconditions");
    let BackendUri::S3(uri) = BackendUri::parse(&settings.uri).unwrap() else {
        panic!("not s3");
    };
    let config = S3Config::resolve(uri, &settings.s3, &Environment::new()).unwrap();
    let mut builder = config.builder(&Environment::new());
    if let Some(copy) = copy {
        builder = builder.with_copy_if_not_exists(copy);
    }
    builder.build().unwrap()
}

fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn put(store: &AmazonS3, key: &str, text: &str, mode: PutMode) -> object_store::Result<()> {
    let options = PutOptions {
        mode,
        ..PutOptions::default()
    };
    block_on(store.put_opts(&Path::from(key), PutPayload::from(text.to_owned()), options)).map(drop)
}

fn read(store: &AmazonS3, key: &str) -> String {
    block_on(async {
        let bytes = store.get(&Path::from(key)).await?.bytes().await?;
        Ok::<_, object_store::Error>(String::from_utf8_lossy(&bytes).into_owned())
    })
    .unwrap()
}

fn etag(store: &AmazonS3, key: &str) -> String {
    block_on(store.head(&Path::from(key)))
        .unwrap()
        .e_tag
        .expect("Garage returns an ETag")
}

#[test]
fn garage_enforces_preconditions_on_reads_and_copy_sources_but_not_on_writes() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let plain = store(&garage, None);
    put(&plain, "k", "one", PutMode::Overwrite).unwrap();

    // Writes: `If-None-Match: *` on an existing key and `If-Match` with a wrong ETag are
    // accepted, and the object is replaced.
    put(&plain, "k", "two", PutMode::Create).unwrap();
    assert_eq!(read(&plain, "k"), "two");
    let stale = UpdateVersion {
        e_tag: Some("\"not-the-etag\"".to_owned()),
        version: None,
    };
    put(&plain, "k", "three", PutMode::Update(stale)).unwrap();
    assert_eq!(read(&plain, "k"), "three");

    // Reads: both enforced.
    let current = etag(&plain, "k");
    let get = |options: GetOptions| block_on(plain.get_opts(&Path::from("k"), options)).map(drop);
    let wrong = get(GetOptions {
        if_match: Some("\"not-the-etag\"".to_owned()),
        ..GetOptions::default()
    });
    assert!(
        matches!(wrong, Err(object_store::Error::Precondition { .. })),
        "{wrong:?}"
    );
    let unchanged = get(GetOptions {
        if_none_match: Some(current),
        ..GetOptions::default()
    });
    assert!(
        matches!(unchanged, Err(object_store::Error::NotModified { .. })),
        "{unchanged:?}"
    );

    // Copies: a precondition on the source is enforced...
    let source_checked = store(
        &garage,
        Some(S3CopyIfNotExists::Header(
            "x-amz-copy-source-if-match".to_owned(),
            "\"not-the-etag\"".to_owned(),
        )),
    );
    let copied = block_on(source_checked.copy_if_not_exists(&Path::from("k"), &Path::from("c")));
    assert!(
        matches!(
            copied,
            Err(object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. })
        ),
        "{copied:?}"
    );
    assert!(block_on(plain.head(&Path::from("c"))).is_err());
    // ...one on the destination is not: the existing object is replaced.
    put(&plain, "c", "existing", PutMode::Overwrite).unwrap();
    let destination_checked = store(
        &garage,
        Some(S3CopyIfNotExists::Header(
            "If-None-Match".to_owned(),
            "*".to_owned(),
        )),
    );
    block_on(destination_checked.copy_if_not_exists(&Path::from("k"), &Path::from("c"))).unwrap();
    assert_eq!(read(&plain, "c"), "three");
    // AWS's own copy-if-not-exists (a multipart upload copying the object, completed with
    // `If-None-Match: *`) does not even start here: Garage copies no part under 5 MiB.
    put(&plain, "m", "existing", PutMode::Overwrite).unwrap();
    let multipart = store(&garage, Some(S3CopyIfNotExists::Multipart));
    let error = block_on(multipart.copy_if_not_exists(&Path::from("k"), &Path::from("m")))
        .unwrap_err()
        .to_string();
    assert!(error.contains("minimum part size is 5Mb"), "{error}");
    assert_eq!(read(&plain, "m"), "existing");
}
