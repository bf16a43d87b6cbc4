//! What an idle keep-alive connection holds in memory, counted by this
//! test binary's own allocator: every byte the proxy has allocated and not
//! freed. Its one test runs alone in the process, so nothing else
//! allocates while the connections idle.

// Allowed here: the counting allocator is a `GlobalAlloc`.
#![allow(unsafe_code)]

#[path = "it/support.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use support::*;

/// Bytes allocated and not yet freed, in the whole process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call goes to the system allocator unchanged; only sizes
// are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The lane's target, as nginx does (0.6 KB): the task, the socket's
/// registration, its timer and slot, and no buffer. A connection hyper
/// answered a request with a body on is the lane's again, and holds as much.
const LANE_IDLE_BYTES: isize = 2000;

const HELD: usize = 300;

/// Opens `count` connections, sends `request` on each and reads its whole
/// answer (one with a Content-Length), and keeps them open.
fn open(addr: SocketAddr, request: &'static [u8], count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream.write_all(request).unwrap();
            let mut answer = Vec::new();
            let mut chunk = [0; 4096];
            while !answered(&answer) {
                let n = stream.read(&mut chunk).unwrap();
                assert!(n > 0, "closed: {}", String::from_utf8_lossy(&answer));
                answer.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&answer).to_ascii_lowercase();
            assert!(!head.contains("connection: close"), "{head}");
            stream
        })
        .collect()
}

/// Opens `count` HTTP/2 connections with prior knowledge, makes one GET
/// for `/1k.txt` on each and reads its whole answer, and keeps them open.
fn open_h2c(addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        frame.extend_from_slice(&[kind, flags]);
        frame.extend_from_slice(&stream.to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    }
    // :method GET, :scheme http, then :path and :authority as literals
    // named from HPACK's static table.
    let block = b"\x82\x86\x04\x07/1k.txt\x01\x01x";
    let mut opening = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    opening.extend(frame(4, 0, 0, &[]));
    opening.extend(frame(1, 0x5, 1, block));
    (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream.write_all(&opening).unwrap();
            loop {
                let mut header = [0; 9];
                stream.read_exact(&mut header).unwrap();
                let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
                let (kind, flags, id) = (header[3], header[4], header[8]);
                let mut payload = vec![0; length];
                stream.read_exact(&mut payload).unwrap();
                match kind {
                    4 if flags & 1 == 0 => stream.write_all(&frame(4, 1, 0, &[])).unwrap(),
                    7 => panic!("GOAWAY: {payload:?}"),
                    0 | 1 if id == 1 && flags & 1 == 1 => break,
                    _ => {}
                }
            }
            stream
        })
        .collect()
}

/// Whether `answer` is a whole response with a Content-Length.
fn answered(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("a Content-Length")
        .trim()
        .parse()
        .unwrap();
    answer.len() >= end + 4 + length
}

/// Bytes the proxy holds for each of `HELD` connections opened by `open`
/// (given how many) that then idle.
async fn held_per_connection(
    addr: SocketAddr,
    open: impl Fn(SocketAddr, usize) -> Vec<TcpStream> + Send + 'static,
) -> isize {
    tokio::task::spawn_blocking(move || {
        // First uses (the file's cache entry, the runtime's own buffers)
        // are no connection's.
        drop(open(addr, 20));
        std::thread::sleep(Duration::from_millis(300));
        let before = LIVE.load(Ordering::Relaxed);
        let held = open(addr, HELD);
        // Past the once-a-second look at an idle h2 connection.
        std::thread::sleep(Duration::from_millis(1100));
        let after = LIVE.load(Ordering::Relaxed);
        drop(held);
        (after - before) / HELD as isize
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_idle_connection_holds_no_buffer() {
    let root = std::env::temp_dir().join(format!("gh-idle-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("1k.txt"), vec![b'a'; 1024]).unwrap();
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &route_yaml(
            "site",
            &format!(
                "  - backends: [{{static: {{root: '{}'}}}}]\n",
                root.display()
            ),
        ),
    );

    let get = |addr, count| open(addr, b"GET /1k.txt HTTP/1.1\r\nHost: x\r\n\r\n", count);
    let lane = held_per_connection(proxy.addr, get).await;
    // A request with a body: hyper answers it, then gives the connection
    // back to the lane.
    let post = |addr, count| {
        let post = b"POST /1k.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        open(addr, post, count)
    };
    let after_post = held_per_connection(proxy.addr, post).await;
    let h2c = held_per_connection(proxy.addr, open_h2c).await;
    eprintln!(
        "held per idle connection: lane {lane} bytes, after a POST {after_post} bytes, h2c {h2c} bytes"
    );
    assert!(
        lane <= LANE_IDLE_BYTES,
        "an idle lane connection holds {lane} bytes (at most {LANE_IDLE_BYTES})"
    );
    assert!(
        after_post <= LANE_IDLE_BYTES,
        "an idle connection that carried a POST holds {after_post} bytes (at most {LANE_IDLE_BYTES})"
    );
}
