//! Delays and faults: the answer describes them (the proxy carries them
//! out); bad ones are refused with their field and line.

use std::time::Duration;

use gatehouse_mock::Fault;

use crate::support::{Req, assert_problems, provision, refused};

#[test]
fn a_fixed_delay_is_given_as_written() {
    let p = provision("default: {delay: 1m, body: late}\n");
    assert_eq!(
        p.answer(&Req::get("/").lend()).delay,
        Some(Duration::from_secs(60))
    );
    let p = provision("default: {delay: 200ms, body: late}\n");
    let answer = p.answer(&Req::get("/").lend());
    assert_eq!(answer.delay, Some(Duration::from_millis(200)));
    assert_eq!(answer.fault, None);
    assert_eq!(answer.body.as_ref(), b"late");
}

#[test]
fn a_random_delay_stays_within_its_bounds_and_varies() {
    let p = provision("default: {delay: {min: 100ms, max: 300ms}}\n");
    let delays: Vec<Duration> = (0..200)
        .map(|_| p.answer(&Req::get("/").lend()).delay.unwrap())
        .collect();
    assert!(
        delays
            .iter()
            .all(|d| (Duration::from_millis(100)..=Duration::from_millis(300)).contains(d))
    );
    assert!(delays.iter().any(|d| *d != delays[0]), "uniform, not fixed");
}

#[test]
fn no_delay_and_no_fault_by_default() {
    let p = provision("default: {body: x}\n");
    let answer = p.answer(&Req::get("/").lend());
    assert_eq!((answer.delay, answer.fault), (None, None));
    let empty = gatehouse_mock::Provision::empty();
    let answer = empty.answer(&Req::get("/").lend());
    assert_eq!((answer.delay, answer.fault), (None, None));
}

#[test]
fn faults_are_described() {
    let p = provision(
        "rules:
  - request: {path: /reset}
    response: {fault: reset}
  - request: {path: /close}
    response: {fault: close, delay: 50ms}
  - request: {path: /slow}
    response:
      body: abcdefghij
      fault: {slowBody: {chunkBytes: 3, every: 100ms}}
  - request: {path: /templated}
    response: {template: true, body: '{{ request.path }}', fault: close}
",
    );
    let get = |path: &str| p.answer(&Req::get(path).lend());
    assert_eq!(get("/reset").fault, Some(Fault::Reset));
    let close = get("/close");
    assert_eq!(close.fault, Some(Fault::Close));
    assert_eq!(close.delay, Some(Duration::from_millis(50)));
    let slow = get("/slow");
    assert_eq!(
        slow.fault,
        Some(Fault::SlowBody {
            chunk_bytes: 3,
            every: Duration::from_millis(100)
        })
    );
    assert_eq!(slow.body.as_ref(), b"abcdefghij");
    assert_eq!(get("/templated").fault, Some(Fault::Close));
}

#[test]
fn a_failed_template_answers_at_once_without_its_fault() {
    let p = provision("default: {template: true, body: '{{ nope() }}', fault: reset, delay: 5s}\n");
    let answer = p.answer(&Req::get("/").lend());
    assert_eq!(answer.status.as_u16(), 500);
    assert_eq!((answer.delay, answer.fault), (None, None));
}

#[test]
fn bad_delays_and_faults_are_refused() {
    let out = refused(
        "rules:
  - response: {delay: 2m}
  - response: {delay: 200}
  - response: {delay: {min: 300ms, max: 100ms}}
  - response: {delay: {min: 1s}}
  - response: {delay: {min: 1s, max: 2s, mean: 3s}}
  - response: {fault: explode}
  - response: {fault: {slowBody: {chunkBytes: 0, every: 2m}}}
  - response: {fault: {slowBody: {every: 1s}}}
  - response: {fault: {slowbody: {}}}
",
    );
    let want = [
        "test.yaml:2: rules[0].response.delay: \"2m\" is longer than 60s",
        "test.yaml:3: rules[1].response.delay: 200 is not a duration — write a duration such as `200ms`",
        "test.yaml:4: rules[2].response.delay: `min` (300ms) is above `max` (100ms) — swap them",
        "test.yaml:5: rules[3].response.delay.max: a random delay needs `max`",
        "test.yaml:6: rules[4].response.delay.mean: unknown field `mean` — expected one of: min, max",
        "test.yaml:7: rules[5].response.fault: \"explode\" is not a fault — write `fault: reset`, `fault: close` or",
        "test.yaml:8: rules[6].response.fault.slowBody.chunkBytes: expected a whole number from 1 to 1048576, found 0",
        "test.yaml:8: rules[6].response.fault.slowBody.every: \"2m\" is longer than 60s",
        "test.yaml:9: rules[7].response.fault.slowBody.chunkBytes: a slow body needs `chunkBytes`",
        "test.yaml:10: rules[8].response.fault.slowbody: unknown field `slowbody` — expected one of: slowBody",
    ];
    assert_problems(&out, &want);
}
