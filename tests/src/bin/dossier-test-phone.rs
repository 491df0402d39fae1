//! The phone app reduced to its queue: open the queue, drain it until nothing is waiting, exit.
//! Tests SIGKILL it at random moments and start it again, as a phone's OS kills an app.
//!
//! Usage: dossier-test-phone BASE_URL QUEUE_FILE TOKEN_FILE
use std::sync::Arc;

use dossier_core::client::{Client, FileTokenStore};
use dossier_core::queue::{DrainOutcome, DrainPolicy, Queue};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, queue_file, token_file] = args.as_slice() else {
        eprintln!("usage: dossier-test-phone BASE_URL QUEUE_FILE TOKEN_FILE");
        std::process::exit(2);
    };
    let client = Client::new(base, Arc::new(FileTokenStore(token_file.into()))).expect("client");
    let queue = Queue::open(queue_file.as_ref()).expect("queue opens");
    loop {
        match queue.drain(&client, &DrainPolicy::default()).await {
            Ok(DrainOutcome::Done) => break,
            // The network came back (as the app's connectivity callback would say).
            Ok(DrainOutcome::RetryAt(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                queue.retry_now().expect("queue writable");
            }
            Ok(other) => {
                eprintln!("drain stopped: {other:?}");
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("queue: {e}");
                std::process::exit(1);
            }
        }
    }
    // Its own high-water mark, for the queue benchmark (a parent's wait4 would report the
    // forked parent's memory, which Linux carries across exec).
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_string()))
        })
        .unwrap_or_default();
    println!("drained; peak RSS {peak}");
}
