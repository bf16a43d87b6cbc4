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
