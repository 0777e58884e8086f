//! The two inboxes the conformance tests run against: a fresh SQLite file,
//! or a namespace in a fresh `redis-server` of the test's own (see
//! `redis_server.rs`). Each test gets its own, so tests stay independent
//! and run in parallel.

use std::path::{Path, PathBuf};

use actix_webhook::inbox::Inbox;

#[cfg(feature = "redis")]
use crate::redis_server::RedisServer;

/// A fresh inbox file, removed (with its WAL files) on drop.
pub(crate) struct TempInbox(PathBuf);

impl TempInbox {
    pub(crate) fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "actix-webhook-inbox-{name}-{}-{nanos}.db",
            std::process::id()
        ));
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempInbox {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.0.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Where one test's inbox lives, kept alive for the test.
pub(crate) enum Backend {
    Sqlite(TempInbox),
    #[cfg(feature = "redis")]
    Redis {
        server: RedisServer,
        namespace: String,
    },
}

/// How to open a [`Backend`]'s inbox again, from any thread: what a second
/// replica is given.
#[derive(Clone)]
pub(crate) enum Place {
    Sqlite(PathBuf),
    #[cfg(feature = "redis")]
    Redis {
        url: String,
        namespace: String,
    },
}

impl Backend {
    /// A fresh SQLite file named after the test.
    pub(crate) fn sqlite(test: &str) -> Self {
        Self::Sqlite(TempInbox::new(test))
    }

    /// A fresh `redis-server`, the inbox in a namespace named after the
    /// test.
    #[cfg(feature = "redis")]
    pub(crate) fn redis(test: &str) -> Self {
        Self::Redis {
            server: RedisServer::start(),
            namespace: format!("conformance-{test}"),
        }
    }

    /// Opens the inbox (again: every call is a new connection, as another
    /// replica's).
    pub(crate) async fn open(&self) -> Inbox {
        self.place().open().await
    }

    pub(crate) fn place(&self) -> Place {
        match self {
            Self::Sqlite(file) => Place::Sqlite(file.path().to_owned()),
            #[cfg(feature = "redis")]
            Self::Redis { server, namespace } => Place::Redis {
                url: server.url(),
                namespace: namespace.clone(),
            },
        }
    }
}

impl Place {
    pub(crate) async fn open(&self) -> Inbox {
        match self {
            Self::Sqlite(path) => Inbox::sqlite(path).expect("open the inbox file"),
            #[cfg(feature = "redis")]
            Self::Redis { url, namespace } => Inbox::redis(url, namespace)
                .await
                .expect("open the inbox in the test's redis-server"),
        }
    }
}
