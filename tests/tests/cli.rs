//! The commands the README promises, run as a district's staff would: the real binary, its
//! printed output, then the real client against the server it starts.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;

use dossier_core::client::{Client, Entry, MemoryTokenStore};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dossier-test-server"))
}

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    bin()
        .args(args)
        .env("DOSSIER_DATA_DIR", dir)
        .output()
        .expect("runs")
}

/// Start `args` (serve or demo); returns the process, its base URL and everything printed before.
fn start(dir: &std::path::Path, args: &[&str]) -> (Child, String, String) {
    let mut child = bin()
        .args(args)
        .env("DOSSIER_DATA_DIR", dir)
        .env("DOSSIER_LISTEN", "127.0.0.1:0")
        .env("DOSSIER_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let base = loop {
        let line = lines.next().expect("prints its address").unwrap();
        if let Some(rest) = line.strip_prefix("Dossier listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
        printed.push_str(&line);
        printed.push('\n');
    };
    std::thread::spawn(move || for _ in lines {});
    (child, base, printed)
}

fn client(base: &str) -> Client {
    Client::new(base, Arc::new(MemoryTokenStore::default())).unwrap()
}

fn word_after<'a>(text: &'a str, marker: &str) -> &'a str {
    text.split(marker)
        .nth(1)
        .unwrap_or_else(|| panic!("{marker:?} not in {text}"))
        .split_whitespace()
        .next()
        .unwrap()
}

#[tokio::test]
async fn demo_prints_a_password_and_a_ticket_that_work() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, base, printed) = start(dir.path(), &["demo"]);
    let username = word_after(&printed, "username ");
    let password = word_after(&printed, "password ");
    let ticket = word_after(&printed, "ticket ");
    // Who belongs to which exam site, and who reviews them.
    assert!(
        printed.contains("2026110100002 李华   西城区考点  seen by xicheng, district, admin"),
        "{printed}"
    );
    let signed_in = client(&base);
    signed_in.login(username, password).await.unwrap();
    assert_eq!(signed_in.dossier().await.unwrap().materials.len(), 8);
    assert!(matches!(
        client(&base).enter_with_ticket(ticket).await.unwrap(),
        Entry::Activate(_)
    ));
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test]
async fn a_district_is_set_up_from_its_file_and_roster() {
    let dir = tempfile::tempdir().unwrap();
    let district_file = dir.path().join("district.toml");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/district.example.toml"
    ))
    .unwrap();
    std::fs::write(
        &district_file,
        example
            .replace("code = \"demo\"", "code = \"tj\"")
            .replace("2027-02-14", "2020-01-01")
            .replace("2027-03-20", "2099-01-01"),
    )
    .unwrap();
    let applied = run(
        dir.path(),
        &["district", "apply", district_file.to_str().unwrap()],
    );
    assert!(applied.status.success(), "{applied:?}");
    let said = String::from_utf8_lossy(&applied.stdout);
    assert!(
        said.contains("district tj created with 8 categories"),
        "{said}"
    );
    assert_eq!(
        word_after(&said, "(shown once): ").len(),
        64,
        "a 256-bit secret, printed once"
    );
    let again = run(
        dir.path(),
        &["district", "apply", district_file.to_str().unwrap()],
    );
    assert!(!String::from_utf8_lossy(&again.stdout).contains("secret"));

    // A bad line refuses the whole roster, naming the line.
    let roster = dir.path().join("roster.csv");
    std::fs::write(
        &roster,
        "报名号,姓名,证件号码,报考类别,考区,考点,手机号码,upgrade_from_assistant\n\
        2027000001,赵一,120101199001011111,临床执业医师,tj,和平考点,13800000011,是\n\
        2027000002,钱二,120101199202022222,临床执业医师,tj,和平考点,1380000,否\n",
    )
    .unwrap();
    let refused = run(dir.path(), &["import-roster", roster.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("line 3"),
        "{refused:?}"
    );
    std::fs::write(
        &roster,
        std::fs::read_to_string(&roster)
            .unwrap()
            .replace(",1380000,", ",13800000022,"),
    )
    .unwrap();
    let imported = run(dir.path(), &["import-roster", roster.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&imported.stdout)
            .contains("imported 2 candidates (2 new, 0 updated)"),
        "{imported:?}"
    );

    // A ticket the server would refuse (it takes at most 15 minutes) is never printed.
    let refused = run(
        dir.path(),
        &["issue-ticket", "2027000001", "--minutes", "100"],
    );
    assert!(!refused.status.success());
    assert!(refused.stdout.is_empty(), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("between 1 and 15"));
    let ticket = run(dir.path(), &["issue-ticket", "2027000001"]);
    let ticket = String::from_utf8(ticket.stdout).unwrap().trim().to_string();
    let (mut server, base, _) = start(dir.path(), &["serve"]);
    let zhao = client(&base);
    let Entry::Activate(needed) = zhao.enter_with_ticket(&ticket).await.unwrap() else {
        panic!("first entry")
    };
    assert_eq!(needed.name, "赵一");
    zhao.activate(dossier_tests::activation(&needed.activation_token))
        .await
        .unwrap();
    let view = zhao.dossier().await.unwrap();
    assert!(
        view.materials
            .iter()
            .find(|m| m.category.code == "assistant_certificate")
            .unwrap()
            .required,
        "必传 from the roster column"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
