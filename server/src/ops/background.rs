//! The loop the background workers share (the notification dispatcher, the ID-card analyser):
//! take what is due, do it, and wait only when there was nothing to do or it failed.
use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::storage::StorageError;

/// Run `tick` for ever: again at once after it did some work, after `idle` when it found none
/// or failed (logged as `what` failed).
pub async fn poll_forever<F, Fut>(idle: Duration, what: &'static str, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, StorageError>>,
{
    loop {
        match tick().await {
            Ok(0) => tokio::time::sleep(idle).await,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "{what} failed");
                tokio::time::sleep(idle).await;
            }
        }
    }
}

/// Wait for every task; the first failure (a task's error or its panic) once all have ended.
pub async fn join_all(mut tasks: JoinSet<Result<(), StorageError>>) -> Result<(), StorageError> {
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => first_error = first_error.or(Some(e)),
            Err(e) => first_error = first_error.or(Some(StorageError::Task(e.to_string()))),
        }
    }
    first_error.map_or(Ok(()), Err)
}
