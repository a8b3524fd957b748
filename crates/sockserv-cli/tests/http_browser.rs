//! `sockserv http` with a real browser: headless Chromium, driven by Playwright
//! (`tests/http_browser/browse.py`), clicks through listings, downloads a file, seeks a
//! video (ranges: 206) and reloads a page (revalidation: 304). Skips without chromium or
//! playwright unless `SOCKSERV_REQUIRE_TOOLS=1`.
//!
//! The video, `tests/http_browser/clip.webm` (4 s, VP8, 160x120, ~50 KB), was made once
//! with: `ffmpeg -f lavfi -i testsrc2=size=160x120:rate=15:duration=4 -c:v libvpx
//! -b:v 100k -g 15 -an clip.webm` (a keyframe every second, so a seek has one nearby).

mod http_support;
mod util;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use http_support::*;
use serde_json::Value;
use util::{exit_within, read_all_in_background};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The whole browser run: several steps of at most 15 s each, normally ~5 s in all.
const BROWSER_WAIT: Duration = Duration::from_secs(90);

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/http_browser/browse.py");
const CLIP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/http_browser/clip.webm");

fn browser_ready() -> bool {
    let chromium = Path::new(CHROMIUM).exists();
    foreign_tool_ready("chromium (Debian package)", chromium)
        && foreign_tool_ready(
            "python3 with playwright (pip install playwright)",
            runs("python3", &["-c", "import playwright.sync_api"]),
        )
}

/// The site: two listings deep, a download, a text file, a video page, a plain page.
fn site() -> Tree {
    let tree = Tree::new();
    tree.file("docs/report.txt", b"quarterly numbers\n");
    tree.file("docs/data.bin", &payload(300_000));
    tree.file("media/clip.webm", &std::fs::read(CLIP).unwrap());
    tree.file(
        "media/player.html",
        b"<!DOCTYPE html><title>player</title>\
          <video id=\"clip\" src=\"clip.webm\" muted preload=\"auto\"></video>",
    );
    tree.file(
        "page.html",
        b"<!DOCTYPE html><title>page</title><p>hello</p>",
    );
    tree
}

/// Runs the Playwright script against `server` in a process group of its own, so a
/// timeout can end the browser it started too; returns its JSON report.
fn browse(server: &HttpServer, tree: &Tree) -> Value {
    let download = tree.root().join("docs/data.bin");
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .arg(server.url(""))
        .arg(download)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3 browse.py");
    let stdout = read_all_in_background(child.stdout.take().unwrap());
    let stderr = read_all_in_background(child.stderr.take().unwrap());
    let group = format!("-{}", child.id());
    let status = exit_within(&mut child, BROWSER_WAIT);
    // The script's group only (python, the Playwright driver, chromium): anything left.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let stdout = String::from_utf8_lossy(&stdout.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap()).into_owned();
    let Some(status) = status else {
        panic!(
            "{}: the browser run took over {BROWSER_WAIT:?}\n{stdout}\n{stderr}",
            server.mode
        );
    };
    assert!(
        status.success(),
        "{}: browse.py failed ({status})\n{stdout}\n{stderr}",
        server.mode
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("bad report ({e}): {stdout}"))
}

/// The statuses, in order, that `key` ("responses": as the page saw them, "wire": as
/// the server sent them) lists for URLs ending in `path`.
fn statuses(report: &Value, key: &str, path: &str) -> Vec<u64> {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {report}"))
        .iter()
        .filter(|seen| seen["url"].as_str().is_some_and(|url| url.ends_with(path)))
        .filter_map(|seen| seen["status"].as_u64())
        .collect()
}

#[test]
fn chromium_browses_downloads_seeks_and_revalidates() {
    if !browser_ready() {
        return;
    }
    for mode in HTTP_MODES {
        let tree = site();
        let server = HttpServer::start(&tree.root(), mode, &[]);
        let report = browse(&server, &tree);
        let text = |key: &str| report[key].as_str().unwrap_or_default().to_string();

        assert_eq!(text("root_title"), "Directory listing for /", "{mode}");
        assert_eq!(
            text("docs_heading"),
            "Directory listing for /docs/",
            "{mode}"
        );
        let links = &report["docs_links"];
        assert_eq!(
            *links,
            serde_json::json!(["data.bin", "report.txt"]),
            "{mode}"
        );
        assert_eq!(report["download_matches"], Value::Bool(true), "{mode}");
        assert_eq!(text("download_name"), "data.bin", "{mode}");
        assert_eq!(text("report_text").trim(), "quarterly numbers", "{mode}");

        let duration = report["video_duration"].as_f64().unwrap_or_default();
        assert!(
            (3.5..4.5).contains(&duration),
            "{mode}: duration {duration}"
        );
        // The reload went back to the server, which answered 304.
        assert_eq!(
            statuses(&report, "wire", "/page.html"),
            [200, 304],
            "{mode}: {report}"
        );

        if python_lacks("Range (its video cannot seek)") {
            continue;
        }
        let video = statuses(&report, "responses", "/media/clip.webm");
        assert!(video.contains(&206), "{mode}: video responses {video:?}");
        let seeked = report["seeked_to"].as_f64().unwrap_or_default();
        assert!(
            (seeked - duration * 0.75).abs() < 0.5,
            "{mode}: the seek landed at {seeked}, not near {}",
            duration * 0.75
        );
    }
}
