//! `gatehouse-operator users`: the users and groups of an htpasswd Secret,
//! edited as a manifest (`-f FILE`, written atomically) or printed for
//! `kubectl apply -f -`. Passwords are hashed with bcrypt here, so no
//! password ever reaches the manifest, the cluster or a log.

mod atomic;
mod manifest;

use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use gatehouse_auth::{
    BCRYPT_COSTS, generate_password, group_name_problem, hash_bcrypt, user_name_problem,
};

use manifest::{DEFAULT_SECRET, SecretManifest};

/// bcrypt reads no further into a password.
const BCRYPT_MAX_PASSWORD: usize = 72;

#[derive(Subcommand)]
pub(crate) enum UsersCommand {
    /// Add a user (or set a user's password) with a bcrypt hash, and add
    /// them to groups. Without -f, prints the new Secret for `kubectl apply -f -`.
    Add(AddArgs),
    /// Remove a user and their group memberships.
    Remove(RemoveArgs),
    /// Print `name<TAB>group,group` per user, in file order (never a hash).
    List(ListArgs),
}

#[derive(Args)]
pub(crate) struct AddArgs {
    /// The user's name (no ':', spaces or control characters).
    name: String,
    /// A group to add the user to; repeat for more.
    #[arg(long = "group", value_name = "G")]
    groups: Vec<String>,
    /// The Secret's name, for a new one [default: gatehouse-users]; with -f,
    /// the file's must match.
    #[arg(long, value_name = "S", env = "GATEHOUSE_USERS_SECRET")]
    secret: Option<String>,
    /// The Secret's namespace (else kubectl's current one).
    #[arg(short = 'n', long, value_name = "N", env = "GATEHOUSE_USERS_NAMESPACE")]
    namespace: Option<String>,
    /// The Secret's manifest: read if it exists, updated, written back.
    /// Without it, nothing is read and the new Secret goes to stdout.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        env = "GATEHOUSE_USERS_FILE"
    )]
    file: Option<PathBuf>,
    /// Read the password from stdin's first line (for scripts).
    #[arg(long, conflicts_with = "generate")]
    password_stdin: bool,
    /// Make a strong password and print it once on stderr.
    #[arg(long)]
    generate: bool,
    /// bcrypt's cost: 2^cost rounds, 4 to 31; each step doubles the time a
    /// login (and a guess) takes.
    #[arg(
        long,
        value_name = "C",
        default_value_t = 10,
        env = "GATEHOUSE_USERS_COST"
    )]
    cost: u32,
}

#[derive(Args)]
pub(crate) struct RemoveArgs {
    /// The user to remove.
    name: String,
    /// The Secret's manifest, written back; without it, one Secret is read
    /// from stdin (`kubectl get secret S -o yaml | …`) and printed changed.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        env = "GATEHOUSE_USERS_FILE"
    )]
    file: Option<PathBuf>,
    /// The Secret's name the manifest must have.
    #[arg(long, value_name = "S", env = "GATEHOUSE_USERS_SECRET")]
    secret: Option<String>,
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// The Secret's manifest; without it, one Secret is read from stdin.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        env = "GATEHOUSE_USERS_FILE"
    )]
    file: Option<PathBuf>,
}

/// Runs one command; `Err` holds the messages for `error: …` lines.
pub(crate) fn run(command: UsersCommand) -> Result<(), Vec<String>> {
    match command {
        UsersCommand::Add(args) => add(args),
        UsersCommand::Remove(args) => remove(args),
        UsersCommand::List(args) => list(args),
    }
}

fn add(args: AddArgs) -> Result<(), Vec<String>> {
    let mut problems: Vec<String> = user_name_problem(&args.name).into_iter().collect();
    problems.extend(args.groups.iter().filter_map(|g| group_name_problem(g)));
    if !BCRYPT_COSTS.contains(&args.cost) {
        problems.push(format!(
            "--cost {} is outside bcrypt's {}..={}; 10 is the default",
            args.cost,
            BCRYPT_COSTS.start(),
            BCRYPT_COSTS.end()
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut manifest = match args.file.as_deref().filter(|f| f.exists()) {
        Some(file) => {
            let mut m = read_file(file)?;
            check_name(&m, args.secret.as_deref(), file)?;
            match (args.namespace.as_deref(), m.namespace()) {
                (Some(want), Some(has)) if want != has => {
                    return Err(vec![format!(
                        "{}: the Secret is in namespace {has}, not {want}; drop --namespace or choose another file",
                        file.display()
                    )]);
                }
                (Some(want), None) => m.set_namespace(want),
                _ => {}
            }
            m
        }
        None => SecretManifest::new(
            args.secret.as_deref().unwrap_or(DEFAULT_SECRET),
            args.namespace.as_deref(),
        ),
    };

    let (password, generated) = password(&args)?;
    let hash = hash_bcrypt(password.as_bytes(), args.cost);
    let is_new = manifest
        .htpasswd
        .set(&args.name, &hash)
        .map_err(|e| vec![e.0])?;
    for group in &args.groups {
        manifest
            .groups
            .add(&args.name, group)
            .map_err(|e| vec![e.0])?;
    }
    save(&manifest, args.file.as_deref())?;

    let groups: Vec<&str> = manifest.groups.groups_of(&args.name).collect();
    let groups = if groups.is_empty() {
        String::new()
    } else {
        format!(" (groups: {})", groups.join(", "))
    };
    let what = if is_new {
        format!("added {} to", args.name)
    } else {
        format!("set a new password for {} in", args.name)
    };
    eprintln!(
        "{what} Secret {}{}{groups}",
        manifest.display_name(),
        in_file(args.file.as_deref())
    );
    if generated {
        eprintln!("generated password for {}: {password}", args.name);
        eprintln!("(it will not be shown again: only its bcrypt hash is kept)");
    }
    warn_problems(&manifest);
    Ok(())
}

fn remove(args: RemoveArgs) -> Result<(), Vec<String>> {
    let mut manifest = read_source(args.file.as_deref())?;
    if let Some(file) = &args.file {
        check_name(&manifest, args.secret.as_deref(), file)?;
    } else {
        check_name(&manifest, args.secret.as_deref(), Path::new("stdin"))?;
    }
    if !manifest.htpasswd.remove(&args.name) {
        return Err(vec![format!(
            "user {:?} is not in Secret {}{}; `users list` shows who is",
            args.name,
            manifest.display_name(),
            in_file(args.file.as_deref())
        )]);
    }
    let groups: Vec<String> = manifest
        .groups
        .groups_of(&args.name)
        .map(str::to_owned)
        .collect();
    manifest.groups.remove_user(&args.name);
    save(&manifest, args.file.as_deref())?;
    let groups = if groups.is_empty() {
        String::new()
    } else {
        format!(" (and from groups: {})", groups.join(", "))
    };
    eprintln!(
        "removed {} from Secret {}{}{groups}",
        args.name,
        manifest.display_name(),
        in_file(args.file.as_deref())
    );
    Ok(())
}

fn list(args: ListArgs) -> Result<(), Vec<String>> {
    let manifest = read_source(args.file.as_deref())?;
    let mut out = String::new();
    for (user, _) in manifest.htpasswd.entries() {
        let groups: Vec<&str> = manifest.groups.groups_of(user).collect();
        out.push_str(&format!("{user}\t{}\n", groups.join(",")));
    }
    print!("{out}");
    Ok(())
}

fn in_file(file: Option<&Path>) -> String {
    file.map(|f| format!(" in {}", f.display()))
        .unwrap_or_default()
}

fn read_file(file: &Path) -> Result<SecretManifest, Vec<String>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| vec![format!("{}: cannot read: {e}", file.display())])?;
    SecretManifest::parse(&file.display().to_string(), &text)
}

/// The manifest from FILE (which must exist) or, without one, from stdin.
fn read_source(file: Option<&Path>) -> Result<SecretManifest, Vec<String>> {
    if let Some(file) = file {
        if !file.exists() {
            return Err(vec![format!(
                "{}: no such file; `users add NAME -f {}` starts one",
                file.display(),
                file.display()
            )]);
        }
        return read_file(file);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(vec![
            "no Secret to read: give -f FILE, or pipe one in: kubectl get secret gatehouse-users -o yaml | gatehouse-operator users …".to_owned(),
        ]);
    }
    let mut text = String::new();
    stdin
        .lock()
        .take(gatehouse_auth::MAX_TEXT_BYTES as u64 * 3)
        .read_to_string(&mut text)
        .map_err(|e| vec![format!("stdin: cannot read: {e}")])?;
    SecretManifest::parse("stdin", &text)
}

fn check_name(
    manifest: &SecretManifest,
    want: Option<&str>,
    file: &Path,
) -> Result<(), Vec<String>> {
    match want {
        Some(want) if want != manifest.name() => Err(vec![format!(
            "{}: holds Secret {}, not {want}; drop --secret or choose that Secret's file",
            file.display(),
            manifest.name()
        )]),
        _ => Ok(()),
    }
}

fn save(manifest: &SecretManifest, file: Option<&Path>) -> Result<(), Vec<String>> {
    let text = manifest.render();
    match file {
        Some(file) => atomic::write(file, &text)
            .map_err(|e| vec![format!("{}: cannot write: {e}", file.display())]),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Says on stderr what the proxy would refuse in the Secret (a line this
/// command did not write, such as an old DES hash), so it is fixed before
/// `kubectl apply`.
fn warn_problems(manifest: &SecretManifest) {
    for problem in manifest.problems() {
        eprintln!("warning: {problem} (the proxy refuses the Secret until this is fixed)");
    }
}

/// The password and whether it was generated.
fn password(args: &AddArgs) -> Result<(String, bool), Vec<String>> {
    let password = if args.generate {
        return Ok((generate_password(), true));
    } else if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(64 * 1024)
            .read_line(&mut line)
            .map_err(|e| vec![format!("--password-stdin: cannot read stdin: {e}")])?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            return Err(vec![
                "--password-stdin read an empty password; send one line with the password (printf '%s\\n' \"$PASSWORD\" | …), or use --generate".to_owned(),
            ]);
        }
        line.to_owned()
    } else if std::io::stdin().is_terminal() {
        let prompt = |p: &str| {
            rpassword::prompt_password(p)
                .map_err(|e| vec![format!("cannot read the password from the terminal: {e}")])
        };
        let first = prompt(&format!("Password for {}: ", args.name))?;
        if first.is_empty() {
            return Err(vec![
                "the password is empty; type one, or use --generate".to_owned(),
            ]);
        }
        if prompt("Again: ")? != first {
            return Err(vec!["the passwords differ; nothing was changed".to_owned()]);
        }
        first
    } else {
        return Err(vec![
            "stdin is not a terminal, so no password can be asked for: give --password-stdin (printf '%s\\n' \"$PASSWORD\" | gatehouse-operator users add NAME --password-stdin) or --generate".to_owned(),
        ]);
    };
    if password.len() > BCRYPT_MAX_PASSWORD {
        return Err(vec![format!(
            "the password is {} bytes; bcrypt reads only the first {BCRYPT_MAX_PASSWORD}, so the rest would be ignored: choose a shorter one",
            password.len()
        )]);
    }
    Ok((password, false))
}
