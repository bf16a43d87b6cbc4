//! What an idle keep-alive connection holds in memory, counted by this
//! test binary's own allocator: every byte the proxy has allocated and not
//! freed. Its one test runs alone in the process, so nothing else
//! allocates while the connections idle.

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
/// registration, its timer and slot, and no buffer.
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

/// Bytes the proxy holds for each of `HELD` connections that made
/// `request` and then idle.
async fn held_per_connection(addr: SocketAddr, request: &'static [u8]) -> isize {
    tokio::task::spawn_blocking(move || {
        // First uses (the file's cache entry, the runtime's own buffers)
        // are no connection's.
        drop(open(addr, request, 20));
        std::thread::sleep(Duration::from_millis(300));
        let before = LIVE.load(Ordering::Relaxed);
        let held = open(addr, request, HELD);
        std::thread::sleep(Duration::from_millis(300));
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

    let lane = held_per_connection(proxy.addr, b"GET /1k.txt HTTP/1.1\r\nHost: x\r\n\r\n").await;
    // A request with a body: the connection is hyper's from then on.
    let hyper = held_per_connection(
        proxy.addr,
        b"POST /1k.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    eprintln!("held per idle connection: lane {lane} bytes, hyper h1 {hyper} bytes");
    assert!(
        lane <= LANE_IDLE_BYTES,
        "an idle lane connection holds {lane} bytes (at most {LANE_IDLE_BYTES})"
    );
}
