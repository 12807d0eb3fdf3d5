//! SQLite storage of traces, so that a share link keeps working after the trace and the server are gone.
//!
//! A trace is stored when it starts (status `running`) and again when it ends, with its folded report and its
//! full event log, so a late viewer of a finished trace receives the same stream a live one did. Schema changes
//! are numbered migrations keyed on `PRAGMA user_version`. Only this module speaks SQL.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use tracemap_shared::{TraceEvent, TraceReport, TraceStatus, TraceSummary};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation.
    #[error("database error while {op}: {source}")]
    Sqlite {
        /// What was being done.
        op: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A stored document no longer parses (written by a newer or broken version).
    #[error("stored trace {id} is unreadable: {source}")]
    Corrupt {
        /// The trace.
        id: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A document could not be turned into JSON; nothing was written (an empty string would read back as a
    /// corrupt trace).
    #[error("cannot serialise the {what} of a trace: {source}")]
    Serialize {
        /// Which document.
        what: &'static str,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The database was written by a newer tracemap, whose schema this binary does not know.
    #[error(
        "the database has schema version {found}, newer than this tracemap knows ({known}): it was written by a \
         newer tracemap; run that version, or point --db at another file"
    )]
    Newer {
        /// The database's `user_version`.
        found: i64,
        /// The migrations this binary has.
        known: usize,
    },
    /// The blocking task running the query died.
    #[error("database task failed")]
    Task,
}

/// `value` as JSON, or the error naming `what` it was.
fn to_json<T: serde::Serialize + ?Sized>(value: &T, what: &'static str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|source| StoreError::Serialize { what, source })
}

trait Op<T> {
    fn op(self, op: &'static str) -> Result<T, StoreError>;
}

impl<T> Op<T> for rusqlite::Result<T> {
    fn op(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite { op, source })
    }
}

/// The migrations, in order; `PRAGMA user_version` counts how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: traces.
    "CREATE TABLE traces (
        id          TEXT PRIMARY KEY,
        created_ms  INTEGER NOT NULL,
        target      TEXT NOT NULL,
        status      TEXT NOT NULL,
        report      TEXT NOT NULL,
        events      TEXT NOT NULL DEFAULT '[]'
    ) STRICT;
    CREATE INDEX traces_created ON traces(created_ms DESC);",
    // 2 (issue #11, private by default): the SHA-256 of each trace's delete token; NULL for older traces,
    // which only the operator's admin token can delete.
    "ALTER TABLE traces ADD COLUMN delete_hash BLOB;",
    // 3 (issue #14, link previews): the trace's picture (`/t/{id}.png`), drawn once it has ended; NULL until
    // someone asks for it. In the trace's row, so deleting or expiring the trace takes it along.
    "ALTER TABLE traces ADD COLUMN preview BLOB;",
];

/// A stored trace: its report and the events that built it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTrace {
    /// The folded report, with `id` and `status` set.
    pub report: TraceReport,
    /// Every event in the order it was emitted.
    pub events: Vec<TraceEvent>,
}

/// A handle on the database, cheap to clone; queries run on tokio's blocking pool.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

fn status_name(status: TraceStatus) -> &'static str {
    match status {
        TraceStatus::Running => "running",
        TraceStatus::Finished => "finished",
        TraceStatus::Failed => "failed",
        TraceStatus::Interrupted => "interrupted",
        TraceStatus::Stopped => "stopped",
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrates it, and marks traces that were running when a
    /// previous server stopped as interrupted.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).op("opening the database")?;
        Self::init(conn)
    }

    /// An in-memory database, for tests.
    pub fn in_memory() -> Result<Store, StoreError> {
        Self::init(Connection::open_in_memory().op("opening the database")?)
    }

    fn init(mut conn: Connection) -> Result<Store, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL").op("enabling WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL").op("setting synchronous")?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).op("setting the busy timeout")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).op("reading user_version")?;
        // A newer schema may mean columns this binary would not fill, or tables it would not clean: touch nothing.
        if usize::try_from(version).is_ok_and(|version| version > MIGRATIONS.len()) {
            return Err(StoreError::Newer { found: version, known: MIGRATIONS.len() });
        }
        for (i, sql) in (0_i64..).zip(MIGRATIONS).skip(usize::try_from(version).unwrap_or(0)) {
            let tx = conn.transaction().op("starting a migration")?;
            tx.execute_batch(sql).op("migrating")?;
            tx.pragma_update(None, "user_version", i + 1).op("recording the migration")?;
            tx.commit().op("committing a migration")?;
        }
        conn.execute("UPDATE traces SET status = 'interrupted' WHERE status = 'running'", [])
            .op("marking interrupted traces")?;
        Ok(Store { conn: Arc::new(Mutex::new(conn)) })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back), so a
            // poisoned lock is still safe to use.
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
        .map_err(|_| StoreError::Task)?
    }

    /// Records a new trace (its report as known so far), with the hash of its delete token if it has one.
    pub async fn insert(
        &self,
        id: &str,
        created_ms: u64,
        report: &TraceReport,
        delete_hash: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let (id, target, status) = (id.to_owned(), report.target.clone(), status_name(report.status));
        let json = to_json(report, "report")?;
        self.with(move |c| {
            c.execute(
                "INSERT INTO traces (id, created_ms, target, status, report, delete_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, created_ms as i64, target, status, json, delete_hash],
            )
            .op("inserting a trace")?;
            Ok(())
        })
        .await
    }

    /// Stores the final report and event log of a trace.
    pub async fn finish(&self, id: &str, report: &TraceReport, events: &[TraceEvent]) -> Result<(), StoreError> {
        let (id, status) = (id.to_owned(), status_name(report.status));
        let report = to_json(report, "report")?;
        let events = to_json(events, "events")?;
        self.with(move |c| {
            c.execute(
                "UPDATE traces SET status = ?2, report = ?3, events = ?4 WHERE id = ?1",
                params![id, status, report, events],
            )
            .op("storing a finished trace")?;
            Ok(())
        })
        .await
    }

    /// The stored trace `id`, if there is one.
    pub async fn get(&self, id: &str) -> Result<Option<StoredTrace>, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            let row = c
                .query_row("SELECT status, report, events FROM traces WHERE id = ?1", [&id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                })
                .optional()
                .op("reading a trace")?;
            let Some((status, report, events)) = row else { return Ok(None) };
            let corrupt = |source| StoreError::Corrupt { id: id.clone(), source };
            let mut report: TraceReport = serde_json::from_str(&report).map_err(corrupt)?;
            let events: Vec<TraceEvent> = serde_json::from_str(&events).map_err(corrupt)?;
            report.id = Some(id.clone());
            // The column is the truth: a trace cut short by a restart keeps its last report but says so.
            if status == "interrupted" {
                report.status = TraceStatus::Interrupted;
            }
            Ok(Some(StoredTrace { report, events }))
        })
        .await
    }
}

impl Store {
    /// The stored picture of trace `id` (`/t/{id}.png`), if one has been drawn.
    pub async fn preview(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            c.query_row("SELECT preview FROM traces WHERE id = ?1", [&id], |r| r.get::<_, Option<Vec<u8>>>(0))
                .optional()
                .map(Option::flatten)
                .op("reading a preview")
        })
        .await
    }

    /// Keeps the picture of the ended trace `id`, so it is drawn once.
    pub async fn set_preview(&self, id: &str, png: Vec<u8>) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            c.execute("UPDATE traces SET preview = ?2 WHERE id = ?1 AND status != 'running'", params![id, png])
                .op("storing a preview")?;
            Ok(())
        })
        .await
    }
}

/// What the store knows of a trace that someone wants to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletable {
    /// The status column (`running` while the trace runs).
    pub running: bool,
    /// The SHA-256 of its delete token; `None` for traces stored before delete tokens existed.
    pub delete_hash: Option<Vec<u8>>,
}

impl Store {
    /// Whether trace `id` exists, is running, and the hash of its delete token.
    pub async fn deletable(&self, id: &str) -> Result<Option<Deletable>, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            c.query_row("SELECT status, delete_hash FROM traces WHERE id = ?1", [&id], |r| {
                Ok(Deletable { running: r.get::<_, String>(0)? == "running", delete_hash: r.get(1)? })
            })
            .optional()
            .op("reading a trace's delete token")
        })
        .await
    }

    /// Removes trace `id` for good (its row holds its report and its events); whether there was one.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.with(move |c| Ok(c.execute("DELETE FROM traces WHERE id = ?1", [&id]).op("deleting a trace")? > 0)).await
    }

    /// Removes every trace created before `before_ms` (Unix milliseconds) that is not running; how many.
    pub async fn expire(&self, before_ms: u64) -> Result<usize, StoreError> {
        let before = i64::try_from(before_ms).unwrap_or(i64::MAX);
        self.with(move |c| {
            c.execute("DELETE FROM traces WHERE created_ms < ?1 AND status != 'running'", [before])
                .op("expiring old traces")
        })
        .await
    }
}

fn parse_status(name: &str) -> TraceStatus {
    match name {
        "finished" => TraceStatus::Finished,
        "failed" => TraceStatus::Failed,
        "interrupted" => TraceStatus::Interrupted,
        "stopped" => TraceStatus::Stopped,
        _ => TraceStatus::Running,
    }
}

impl Store {
    /// The `limit` most recent traces, newest first. A row whose report no longer parses is skipped (and
    /// logged) rather than hiding every other trace.
    pub async fn list(&self, limit: usize) -> Result<Vec<TraceSummary>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(move |c| {
            let mut stmt = c
                .prepare("SELECT id, created_ms, status, report FROM traces ORDER BY created_ms DESC, id LIMIT ?1")
                .op("listing traces")?;
            let rows = stmt
                .query_map([limit], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
                })
                .op("listing traces")?;
            let mut out = Vec::new();
            for row in rows {
                let (id, created_ms, status, report) = row.op("reading a trace row")?;
                let report: TraceReport = match serde_json::from_str(&report) {
                    Ok(report) => report,
                    Err(err) => {
                        tracing::warn!(%id, error = %err, "skipping an unreadable stored trace");
                        continue;
                    }
                };
                out.push(TraceSummary {
                    id,
                    target: report.target,
                    address: report.address,
                    protocol: report.protocol,
                    status: parse_status(&status),
                    destination_reached: report.destination_reached,
                    hops: report.hops.len(),
                    created_ms: u64::try_from(created_ms).unwrap_or(0),
                    duration_ms: report.duration_ms,
                    tries: report.tries,
                    max_hops: report.max_hops,
                    options: report.options,
                });
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemap_shared::Protocol;

    #[tokio::test]
    async fn trace_round_trips_and_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("tracemap-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("t.sqlite");
        let _ = std::fs::remove_file(&path);

        let store = Store::open(&path).expect("open");
        let mut report = TraceReport::new("10.0.0.1", Protocol::Icmp);
        store.insert("abc", 1, &report, None).await.expect("insert");
        store.insert("run", 2, &report, Some(vec![7; 32])).await.expect("insert");
        let events = vec![TraceEvent::Finished { destination_reached: true, duration_ms: 3 }];
        report.apply(&events[0]);
        store.finish("abc", &report, &events).await.expect("finish");
        drop(store);

        let store = Store::open(&path).expect("reopen");
        let got = store.get("abc").await.expect("get").expect("present");
        assert_eq!(got.report.status, TraceStatus::Finished);
        assert_eq!(got.report.id.as_deref(), Some("abc"));
        assert_eq!(got.events, events);
        let interrupted = store.get("run").await.expect("get").expect("present");
        assert_eq!(interrupted.report.status, TraceStatus::Interrupted);
        assert!(store.get("nope").await.expect("get").is_none());
        let listed = store.list(10).await.expect("list");
        let ids: Vec<&str> = listed.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["run", "abc"], "newest first");
        assert_eq!(listed[1].status, TraceStatus::Finished);
        assert_eq!(listed[0].status, TraceStatus::Interrupted);
        assert_eq!(store.list(1).await.expect("list").len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn deleted_and_expired_traces_are_gone_for_good() {
        let store = Store::in_memory().expect("store");
        let mut report = TraceReport::new("10.0.0.1", Protocol::Icmp);
        store.insert("running", 1, &report, Some(vec![1; 32])).await.expect("insert");
        report.status = TraceStatus::Finished;
        for (id, created) in [("old", 1_000), ("new", 9_000), ("mine", 9_500)] {
            store.insert(id, created, &report, Some(vec![2; 32])).await.expect("insert");
            let events = vec![TraceEvent::Finished { destination_reached: true, duration_ms: 3 }];
            store.finish(id, &report, &events).await.expect("finish");
        }
        let mine = store.deletable("mine").await.expect("read").expect("present");
        assert_eq!(mine, Deletable { running: false, delete_hash: Some(vec![2; 32]) });
        assert!(store.deletable("running").await.expect("read").expect("present").running);
        assert_eq!(store.deletable("nope").await.expect("read"), None);

        assert!(store.delete("mine").await.expect("delete"));
        assert!(!store.delete("mine").await.expect("delete again"));
        assert!(store.get("mine").await.expect("get").is_none(), "report and events are gone");

        // Traces created before the cut-off go, except one still running.
        assert_eq!(store.expire(5_000).await.expect("expire"), 1);
        let ids: Vec<String> = store.list(10).await.expect("list").into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["new", "running"]);
    }

    #[tokio::test]
    async fn a_database_from_a_newer_tracemap_is_refused_and_left_untouched() {
        let dir = std::env::temp_dir().join(format!("tracemap-store-newer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("t.sqlite");
        let _ = std::fs::remove_file(&path);
        let store = Store::open(&path).expect("open");
        store.insert("run", 1, &TraceReport::new("10.0.0.1", Protocol::Icmp), None).await.expect("insert");
        drop(store);
        let newer = i64::try_from(MIGRATIONS.len()).expect("few migrations") + 1;
        Connection::open(&path).expect("open").pragma_update(None, "user_version", newer).expect("bump");

        let error = Store::open(&path).expect_err("a newer schema must be refused");
        assert!(matches!(error, StoreError::Newer { found, .. } if found == newer), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains(&format!("schema version {newer}")) && message.contains("newer tracemap"),
            "{message}"
        );
        // Nothing was changed: the running trace was not marked interrupted.
        let conn = Connection::open(&path).expect("open");
        let status: String =
            conn.query_row("SELECT status FROM traces WHERE id = 'run'", [], |r| r.get(0)).expect("row");
        assert_eq!(status, "running");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_document_that_cannot_be_serialised_is_an_error_not_an_empty_string() {
        // JSON object keys must be strings: a map keyed by a tuple fails to serialise.
        let unserialisable: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
        let error = to_json(&unserialisable, "report").expect_err("must fail");
        assert!(error.to_string().starts_with("cannot serialise the report of a trace"), "{error}");
        assert_eq!(to_json(&[1, 2], "events").expect("plain"), "[1,2]");
    }
}
