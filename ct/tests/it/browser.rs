//! The depot's web page in a real headless Chromium (Debian's `chromium`
//! and `chromium-driver`), against the built proxy: what a person does
//! through the page, checked afterwards with a plain HTTP client, as any
//! other client of the depot would see it. Ignored by a plain `cargo
//! test`; `ct/test-all.sh` runs them (`-- --ignored browser_`).

use std::time::Duration;

use gatehouse_ct::webdriver::screenshot_dir;
use gatehouse_ct::{Browser, ProxyProcess, depot_yaml};
use gatehouse_testkit::TempDir;
use serde_json::{Value, json};

const FILE: &str = "/depot/configs/app.txt";
const A: &str = "name: app\nreplicas: 1\nimage: app:1.0\n";
const B: &str = "name: app\nreplicas: 3\nimage: app:1.0\n";
const C: &str = "name: app\nreplicas: 3\nimage: app:2.0\n";

/// How long the page may take for one step (a request or two and a redraw).
const STEP: Duration = Duration::from_secs(10);

async fn depot_proxy(manifests: &TempDir, data: &TempDir) -> ProxyProcess {
    manifests.write("depot.yaml", &depot_yaml("configs"));
    ProxyProcess::builder()
        .arg("--manifests")
        .arg(manifests.path())
        .arg("--data-dir")
        .arg(data.path())
        .start()
        .await
}

/// Clicks `button`, checks the dialog asks `question`, then answers OK
/// (after typing `input` into its field, when given).
async fn confirm(browser: &Browser, button: &str, question: &str, input: Option<&str>) {
    browser.click(button).await;
    browser
        .wait_until("document.getElementById('confirm').open", STEP)
        .await;
    assert_eq!(browser.text("#confirm-text").await, question);
    if let Some(text) = input {
        browser.type_into("#confirm-input", text).await;
    }
    browser.click("#confirm-ok").await;
    browser
        .wait_until("!document.getElementById('confirm').open", STEP)
        .await;
}

/// The number of rows in the file's history, as the page shows it.
fn history_rows(count: usize) -> String {
    format!("document.querySelectorAll('#history tbody tr').length === {count}")
}

/// `?revision=all` of FILE over plain HTTP: (revisions, tags).
async fn history(proxy: &ProxyProcess) -> (Vec<u64>, Value) {
    let reply = proxy.get(&format!("{FILE}?revision=all")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let all = reply.json();
    let revisions = all["history"]
        .as_array()
        .unwrap_or_else(|| panic!("no history: {all}"))
        .iter()
        .map(|h| h["rev"].as_u64().unwrap())
        .collect();
    (revisions, all["tags"].clone())
}

#[tokio::test]
#[ignore = "needs Debian's chromium and chromium-driver: run bash ct/test-all.sh"]
async fn browser_the_depot_page_uploads_diffs_rolls_back_tags_and_deletes() {
    let (manifests, data) = (TempDir::new("page-manifests"), TempDir::new("page-data"));
    let proxy = depot_proxy(&manifests, &data).await;
    let browser = Browser::start().await;
    browser.navigate(&proxy.url("/depot/")).await;

    // The repository, then a new file through the page.
    browser.click("#repos button[data-repo='configs']").await;
    browser.type_into("#new-name", "app.txt").await;
    browser.type_into("#new-content", A).await;
    confirm(
        &browser,
        "#create",
        &format!("Create {FILE} with {} bytes?", A.len()),
        None,
    )
    .await;
    browser.wait_until(&history_rows(1), STEP).await;
    assert_eq!(browser.text("#file-name").await, FILE);
    assert_eq!(
        proxy.get(FILE).await.body,
        A,
        "what the page sent, byte for byte"
    );

    // A second revision: the history grows, current moves to 2.
    browser.type_into("#upload-content", B).await;
    let question = format!(
        "Upload {} bytes as a new revision of {FILE}? It becomes current (unless it equals the latest revision).",
        B.len()
    );
    confirm(&browser, "#upload", &question, None).await;
    browser.wait_until(&history_rows(2), STEP).await;
    browser
        .wait_until(
            "document.querySelector(\"#history tr[data-rev='2'] .chip.current\")",
            STEP,
        )
        .await;
    assert_eq!(
        browser
            .text("#files tr[data-file='/configs/app.txt'] td:nth-child(2)")
            .await,
        "2"
    );

    // The line diff of 1 and 2.
    browser.click("#diff-from option[value='1']").await;
    browser.click("#diff-to option[value='2']").await;
    browser.click("#diff-run").await;
    browser
        .wait_until("document.querySelector('#diff .add')", STEP)
        .await;
    assert_eq!(browser.text("#diff .del").await, "- replicas: 1");
    assert_eq!(browser.text("#diff .add").await, "+ replicas: 3");
    assert!(
        browser
            .text("#diff-summary")
            .await
            .contains("1 line added, 1 removed")
    );

    // Roll back to 1 through the dialog; a plain client then gets A.
    let question = format!("Make revision 1 current for {FILE}?");
    confirm(
        &browser,
        "#history tr[data-rev='1'] .make-current",
        &question,
        None,
    )
    .await;
    browser
        .wait_until(
            "document.querySelector(\"#history tr[data-rev='1'] .chip.current\")",
            STEP,
        )
        .await;
    let rolled_back = proxy.get(FILE).await;
    assert_eq!((rolled_back.status, rolled_back.body.as_str()), (200, A));

    // A tag; a bad one shows the depot's own words.
    let question = format!("Tag revision 2 of {FILE} as:");
    confirm(
        &browser,
        "#history tr[data-rev='2'] .tag",
        &question,
        Some("prod"),
    )
    .await;
    browser
        .wait_until(
            "document.querySelector(\"#history tr[data-rev='2'] .chip[data-tag='prod']\")",
            STEP,
        )
        .await;
    let question = format!("Tag revision 1 of {FILE} as:");
    confirm(
        &browser,
        "#history tr[data-rev='1'] .tag",
        &question,
        Some("not a tag"),
    )
    .await;
    browser
        .wait_until("document.querySelector('#message.error')", STEP)
        .await;
    let message = browser.text("#message").await;
    assert!(message.contains("400 invalid tag name"), "{message}");

    // Cancel changes nothing (current stays 1); a third revision, then
    // revision 1 deleted (the current and the latest cannot be).
    browser
        .click("#history tr[data-rev='2'] .make-current")
        .await;
    browser
        .wait_until("document.getElementById('confirm').open", STEP)
        .await;
    let field_shown = browser
        .execute(
            "return document.getElementById('confirm-field').offsetHeight > 0;",
            json!([]),
        )
        .await
        .unwrap();
    assert_eq!(field_shown, false, "a yes/no question shows no tag field");
    let asking = browser
        .screenshot(&screenshot_dir().join("depot-page-dialog.png"))
        .await;
    println!("screenshot (a question): {}", asking.display());
    browser.click("#confirm-cancel").await;
    browser
        .wait_until("!document.getElementById('confirm').open", STEP)
        .await;
    assert_eq!(proxy.get(FILE).await.body, A, "cancelled");
    assert_eq!(history(&proxy).await.0, [1, 2]);
    browser.type_into("#upload-content", C).await;
    let question = format!(
        "Upload {} bytes as a new revision of {FILE}? It becomes current (unless it equals the latest revision).",
        C.len()
    );
    confirm(&browser, "#upload", &question, None).await;
    browser.wait_until(&history_rows(3), STEP).await;
    let question = format!(
        "Delete revision 1 of {FILE}? Its content and the tags on it are removed for good."
    );
    confirm(
        &browser,
        "#history tr[data-rev='1'] .delete",
        &question,
        None,
    )
    .await;
    browser.wait_until(&history_rows(2), STEP).await;
    let (revisions, tags) = history(&proxy).await;
    assert_eq!(revisions, [2, 3]);
    assert_eq!(tags, json!([["current", 3], ["latest", 3], ["prod", 2]]));

    // Markup in a file is shown as text, never run.
    let markup = "<img src=x onerror=\"document.title='owned'\">";
    browser.type_into("#upload-content", markup).await;
    let question = format!(
        "Upload {} bytes as a new revision of {FILE}? It becomes current (unless it equals the latest revision).",
        markup.len()
    );
    confirm(&browser, "#upload", &question, None).await;
    browser.wait_until(&history_rows(3), STEP).await;
    browser
        .wait_until(
            "document.getElementById('view').textContent.startsWith('<img')",
            STEP,
        )
        .await;
    let children = browser
        .execute(
            "return document.querySelectorAll('#view *, img').length;",
            json!([]),
        )
        .await
        .unwrap();
    assert_eq!(children, 0, "the file's markup became elements");

    // The same bytes again: the page says no revision was made.
    browser.type_into("#upload-content", markup).await;
    confirm(&browser, "#upload", &question, None).await;
    browser
        .wait_until(
            "document.getElementById('message').textContent.startsWith('Same content as the latest revision (4)')",
            STEP,
        )
        .await;
    browser.wait_until(&history_rows(3), STEP).await;

    // Show revision 3 for the picture, and look at it in a wide and a narrow window.
    browser.click("#history tr[data-rev='3'] .view").await;
    browser
        .wait_until(
            "document.getElementById('view-title').textContent.startsWith('Revision 3 ')",
            STEP,
        )
        .await;
    browser.click("#diff-from option[value='2']").await;
    browser.click("#diff-to option[value='3']").await;
    browser.click("#diff-run").await;
    browser
        .wait_until("document.querySelector('#diff .add')", STEP)
        .await;
    // Tall enough for the whole page in one picture.
    browser.set_window_size(1280, 1500).await;
    let dir = screenshot_dir();
    let wide = browser.screenshot(&dir.join("depot-page.png")).await;
    println!("screenshot: {}", wide.display());
    browser.set_window_size(390, 844).await;
    let overflow = browser
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            json!([]),
        )
        .await
        .unwrap();
    browser
        .execute(
            "document.getElementById('file').scrollIntoView();",
            json!([]),
        )
        .await
        .unwrap();
    let narrow = browser.screenshot(&dir.join("depot-page-narrow.png")).await;
    println!("screenshot (narrow): {}", narrow.display());
    assert!(
        overflow.as_i64().unwrap_or(i64::MAX) <= 0,
        "the narrow page scrolls sideways by {overflow}px"
    );

    // The mount without its `/`, with a file in the address: the page opens it.
    browser.set_window_size(1280, 900).await;
    browser
        .navigate(&proxy.url("/depot#/configs/app.txt"))
        .await;
    browser.wait_until(&history_rows(3), STEP).await;
    assert_eq!(browser.text("#file-name").await, FILE);

    // The diff's own rules, in the page's script: the changed lines, and a
    // refusal (null, which the page words) past its cap rather than a hang.
    let diff = browser
        .execute(
            "return diffLines(['a', 'b', 'c'], ['a', 'x', 'c']);",
            json!([]),
        )
        .await
        .unwrap();
    assert_eq!(
        diff,
        json!([[" ", "a"], ["-", "b"], ["+", "x"], [" ", "c"]])
    );
    let capped = browser
        .execute(
            "const lines = (p) => Array.from({length: 3000}, (_, i) => p + i);
             return diffLines(lines('a'), lines('b'));",
            json!([]),
        )
        .await
        .unwrap();
    assert_eq!(capped, Value::Null);

    // Besides the refused tag above, which the browser logs as a failed load.
    let mut errors = browser.console_errors().await;
    errors.retain(|e| !e.contains("tag=not%20a%20tag"));
    assert!(errors.is_empty(), "the page's console: {errors:#?}");
}

/// A stored page whose script tries to change the depot, as a same-origin
/// caller would; it reports what it got in its title.
const HOSTILE: &str = r#"<!doctype html><title>waiting</title><script>
fetch("/depot/configs/app.txt", {method: "PUT", body: "defaced"})
  .then(r => { document.title = "answered " + r.status; })
  .catch(e => { document.title = "refused: " + e.name; });
</script>"#;

#[tokio::test]
#[ignore = "needs Debian's chromium and chromium-driver: run bash ct/test-all.sh"]
async fn browser_a_stored_html_page_runs_in_an_origin_of_its_own_and_cannot_write() {
    let (manifests, data) = (TempDir::new("page-manifests"), TempDir::new("page-data"));
    let proxy = depot_proxy(&manifests, &data).await;
    for (path, body) in [(FILE, A), ("/depot/configs/hostile.html", HOSTILE)] {
        let stored = proxy
            .try_request(
                reqwest::Method::PUT,
                &proxy.url(path),
                &[],
                Some(body.into()),
            )
            .await
            .unwrap();
        assert_eq!(stored.status, 200, "{stored:?}");
    }
    let browser = Browser::start().await;
    browser
        .navigate(&proxy.url("/depot/configs/hostile.html"))
        .await;
    // Its script ran (sandboxed, scripts allowed), and was refused: the
    // sandbox gives it an opaque origin (`Origin: null`), a foreign one,
    // whose write the depot refuses at its preflight (the browser then
    // fails the fetch) or, were it sent, with 403.
    browser
        .wait_until("document.title !== 'waiting'", STEP)
        .await;
    let title = browser
        .execute("return document.title", json!([]))
        .await
        .unwrap();
    assert!(
        title == "refused: TypeError" || title == "answered 403",
        "the stored page's write was refused: {title}"
    );
    assert_eq!(proxy.get(FILE).await.body, A, "the file is unchanged");
    let (revisions, _) = history(&proxy).await;
    assert_eq!(revisions, [1]);
}
