//! A real headless Chromium, driven over the W3C WebDriver protocol (HTTP
//! and JSON to Debian's `chromedriver`), for tests of pages people use.
//! Just what the tests need: a session, navigate, find by CSS, click,
//! type, read text, run a script, take a screenshot, and wait until
//! something is true. `chromedriver` and the Chromium it starts run in a
//! process group of their own, killed together on drop.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use gatehouse_testkit::{TempDir, client, free_port, wait_for};
use serde_json::{Value, json};

use crate::process::error_chain;

/// Where Debian's packages `chromium` and `chromium-driver` put them.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The key under which WebDriver names an element (W3C).
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long chromedriver and a new Chromium may take to be ready.
const START_WITHIN: Duration = Duration::from_secs(60);

/// An element of the page, as WebDriver names it.
#[derive(Clone, Debug)]
pub struct Element(String);

/// One Chromium session; chromedriver and Chromium are killed on drop.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    client: reqwest::Client,
    scratch: TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium with a
    /// fresh profile, 1280×900. Panics, saying what to install, when the
    /// packages are missing.
    pub async fn start() -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: apt-get install -y chromium chromium-driver"
            );
        }
        let addr = free_port();
        let logs = TempDir::new("chromium");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={}", addr.port()))
            .arg(format!(
                "--log-path={}",
                logs.join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group: Chromium's processes go down with it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
            client: client(),
            scratch: logs,
        };
        browser.wait_ready().await;
        browser.session = browser.new_session().await;
        browser
    }

    async fn wait_ready(&self) {
        let status = format!("http://{}/status", self.addr);
        wait_for("chromedriver ready", START_WITHIN, async || {
            let reply = self
                .client
                .get(&status)
                .send()
                .await
                .map_err(|e| error_chain(&e))?;
            let body: Value = reply.json().await.map_err(|e| error_chain(&e))?;
            if body["value"]["ready"] == true {
                Ok(())
            } else {
                Err(body.to_string())
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }

    async fn new_session(&self) -> String {
        let profile = self.scratch.join("profile");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            &format!("--user-data-dir={}", profile.display()),
            "--window-size=1280,900",
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            // The page's console, so a test can see script errors and CSP refusals.
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let value = self
            .command("POST", "/session", Some(capabilities))
            .await
            .unwrap_or_else(|e| panic!("no Chromium session: {e}"));
        value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {value}"))
            .to_owned()
    }

    /// One WebDriver command; its `value`, or the driver's error as text.
    async fn command(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("http://{}{path}", self.addr);
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.client.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {}", error_chain(&e)))?;
        let ok = reply.status().is_success();
        let mut body: Value = reply
            .json()
            .await
            .map_err(|e| format!("{method} {path}: {}", error_chain(&e)))?;
        let value = body["value"].take();
        if ok {
            Ok(value)
        } else {
            Err(format!(
                "{method} {path}: {} ({})",
                value["error"].as_str().unwrap_or("error"),
                value["message"].as_str().unwrap_or("")
            ))
        }
    }

    /// A command of this session: `path` is below `/session/<id>`.
    async fn session_command(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        self.command(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn navigate(&self, url: &str) {
        self.session_command("POST", "/url", Some(json!({ "url": url })))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The first element matching `css`, or why there is none.
    pub async fn try_find(&self, css: &str) -> Result<Element, String> {
        let query = json!({"using": "css selector", "value": css});
        let value = self
            .session_command("POST", "/element", Some(query))
            .await?;
        value[ELEMENT]
            .as_str()
            .map(|id| Element(id.to_owned()))
            .ok_or_else(|| format!("no element id in {value}"))
    }

    /// The first element matching `css`, waited for up to `within`.
    pub async fn find(&self, css: &str, within: Duration) -> Element {
        wait_for(&format!("an element {css}"), within, async || {
            self.try_find(css).await
        })
        .await
        .map(|(element, _)| element)
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Clicks the element matching `css` (waited for up to 10 s).
    pub async fn click(&self, css: &str) {
        let element = self.find(css, Duration::from_secs(10)).await;
        self.element_command(&element, "/click", json!({}))
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types `text` into the element matching `css`, after clearing it.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css, Duration::from_secs(10)).await;
        self.element_command(&element, "/clear", json!({}))
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        self.element_command(&element, "/value", json!({ "text": text }))
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// The rendered text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css, Duration::from_secs(10)).await;
        let path = format!("/element/{}/text", element.0);
        let value = self
            .session_command("GET", &path, None)
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"));
        value.as_str().unwrap_or("").to_owned()
    }

    async fn element_command(
        &self,
        element: &Element,
        what: &str,
        body: Value,
    ) -> Result<Value, String> {
        let path = format!("/element/{}{what}", element.0);
        self.session_command("POST", &path, Some(body)).await
    }

    /// Runs `script` (a function body: `return …;`) in the page; its result.
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value, String> {
        let body = json!({"script": script, "args": args});
        self.session_command("POST", "/execute/sync", Some(body))
            .await
    }

    /// Waits until the JavaScript expression `condition` is truthy in the
    /// page; panics after `within` with what the page showed last.
    pub async fn wait_until(&self, condition: &str, within: Duration) {
        let script = format!("return Boolean({condition});");
        let shown = "return document.getElementById('message')?.textContent || '';";
        let result = wait_for(condition, within, async || {
            match self.execute(&script, json!([])).await? {
                Value::Bool(true) => Ok(()),
                _ => Err(format!(
                    "false; the page's message: {}",
                    self.execute(shown, json!([])).await.unwrap_or_default()
                )),
            }
        })
        .await;
        if let Err(why) = result {
            panic!("{why}");
        }
    }

    /// Resizes the window (the viewport is a little smaller).
    pub async fn set_window_size(&self, width: u32, height: u32) {
        let rect = json!({"width": width, "height": height});
        self.session_command("POST", "/window/rect", Some(rect))
            .await
            .unwrap_or_else(|e| panic!("resize: {e}"));
    }

    /// Saves a PNG of the viewport at `path` and returns it.
    pub async fn screenshot(&self, path: &Path) -> PathBuf {
        let value = self
            .session_command("GET", "/screenshot", None)
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        let png = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap_or(""))
            .unwrap_or_else(|e| panic!("the screenshot is not base64: {e}"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path.to_owned()
    }

    /// The page's console messages at `SEVERE` level since the last call
    /// (script errors, refused resources), as text.
    pub async fn console_errors(&self) -> Vec<String> {
        let logs = self
            .session_command("POST", "/se/log", Some(json!({"type": "browser"})))
            .await
            .unwrap_or_else(|e| panic!("the browser's log: {e}"));
        logs.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// Ends the session the blocking way (drop cannot await), so Chromium
    /// quits and removes its own files; a few seconds at most.
    fn quit(&self) {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.session, self.addr
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            self.quit();
        }
        // What is left of the group chromedriver leads (its Chromium
        // processes), by the group id this test started; then the driver.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where screenshots go: `<target>/screenshots/`, beside the test binary
/// (`<target>/<profile>/deps/<test>`), so they outlive the test's temp dirs.
pub fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.ancestors()
        .nth(3)
        .map(|target| target.join("screenshots"))
        .unwrap_or_else(std::env::temp_dir)
}
