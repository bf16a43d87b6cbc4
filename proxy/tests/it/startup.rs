//! What stops the proxy from starting, and what it says then.

use crate::support::*;
use clap::Parser;
use gatehouse_proxy::Settings;

#[tokio::test]
async fn a_port_that_is_already_serving_is_refused_as_nginx_does() {
    let first = start_proxy(|_| {}).await;
    let mut settings = Settings::for_tests();
    settings.listen = first.addr;
    let err = match gatehouse_proxy::start(&settings).await {
        Ok(_) => panic!("a second proxy started on {}", first.addr),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains(&format!("--listen {}", first.addr)), "{err}");
    assert!(
        err.to_lowercase().contains("address already in use"),
        "{err}"
    );
}

#[test]
fn flag_values_that_would_serve_nothing_are_refused_with_the_fix() {
    for (flag, value, says) in [
        ("--max-connections", "0", "give 1 or more"),
        ("--workers", "0", "give 1 or more"),
        ("--header-read-timeout", "0s", "above zero"),
        ("--keep-alive-timeout", "0s", "above zero"),
        ("--backend-read-timeout", "0s", "above zero"),
        ("--max-header-bytes", "1000", "8192 bytes"),
        ("--log", "gatehouse=verbose", "`target=level`"),
    ] {
        let err = Settings::try_parse_from(["gatehouse-proxy", flag, value])
            .expect_err(flag)
            .to_string();
        assert!(
            err.contains(flag) && err.contains(says),
            "{flag} {value}: {err}"
        );
    }
}

/// `--await-config`: in a Pod, `--config-file` names a key of a ConfigMap
/// the operator fills after the Pod starts. The proxy starts without it,
/// says on `/readyz` what it waits for, and serves once a config comes.
#[tokio::test]
async fn await_config_starts_without_the_file_and_is_ready_after_the_first_push() {
    let tmp = gatehouse_testkit::TempDir::new("await-config");
    let missing = tmp.join("config.json");
    let proxy = start_proxy(|s| {
        s.config_file = Some(missing.clone());
        s.await_config = true;
    })
    .await;
    let readyz = format!("http://{}/readyz", proxy.admin_addr);
    let waiting = gatehouse_testkit::client()
        .get(&readyz)
        .send()
        .await
        .unwrap();
    assert_eq!(waiting.status(), 503);
    let text = waiting.text().await.unwrap();
    assert!(text.contains("waiting for its first config"), "{text}");
    assert!(text.contains("PUT /config"), "{text}");
    let traffic = gatehouse_testkit::client()
        .get(url(&proxy, "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(traffic.status(), 503);

    let upstream = gatehouse_testkit::Upstream::start("app");
    let config = config_from_yaml(&one_backend("r", "app", &upstream.url()));
    let pushed = gatehouse_testkit::client()
        .put(format!("http://{}/config", proxy.admin_addr))
        .json(&config)
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 200);
    let ready = gatehouse_testkit::client()
        .get(&readyz)
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(get_text(&url(&proxy, "/")).await, "app");
}

/// Before any push, the file written later is read on SIGHUP (`reload`).
#[tokio::test]
async fn await_config_reads_the_file_once_it_is_there_on_reload() {
    let tmp = gatehouse_testkit::TempDir::new("await-config-reload");
    let file = tmp.join("config.json");
    let proxy = start_proxy(|s| {
        s.config_file = Some(file.clone());
        s.await_config = true;
    })
    .await;
    proxy.reload();
    assert!(
        proxy.state.current().is_none(),
        "still no file, still waiting"
    );
    let upstream = gatehouse_testkit::Upstream::start("from-file");
    let config = config_from_yaml(&one_backend("r", "app", &upstream.url()));
    std::fs::write(&file, serde_json::to_string(&config).unwrap()).unwrap();
    proxy.reload();
    assert_eq!(get_text(&url(&proxy, "/")).await, "from-file");
}

/// Without `--await-config` a missing file stops the start, naming it.
#[tokio::test]
async fn a_missing_config_file_without_await_config_stops_the_start() {
    let tmp = gatehouse_testkit::TempDir::new("no-await-config");
    let missing = tmp.join("config.json");
    let mut settings = Settings::for_tests();
    settings.config_file = Some(missing.clone());
    let err = match gatehouse_proxy::start(&settings).await {
        Ok(_) => panic!("the proxy started without its config file"),
        Err(err) => format!("{err:#}"),
    };
    assert!(
        err.contains(&format!("--config-file {}: cannot read", missing.display())),
        "{err}"
    );
}

#[test]
fn await_config_needs_a_config_file() {
    let err = Settings::try_parse_from(["gatehouse-proxy", "--await-config"])
        .expect_err("--await-config alone")
        .to_string();
    assert!(err.contains("--config-file"), "{err}");
}
