//! Builds the web UI (`web/`, a Vite app) into `$OUT_DIR/web-dist`, so building
//! the `solo` binary is all it takes to serve the UI: no manual extra step.
//!
//! `SOLO_SKIP_WEB_BUILD=1` skips it (the binary then serves a page explaining how
//! to build the UI). When npm is missing or the build fails, the same page is
//! used and cargo prints a warning; the server still builds and runs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let web = manifest.join("../../web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("web-dist");
    for input in ["src", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json", "public"]
    {
        println!("cargo:rerun-if-changed={}", web.join(input).display());
    }
    // The API and event types the UI imports (`@solo/domain-schema`).
    println!("cargo:rerun-if-changed={}", manifest.join("../../packages/domain-schema/src").display());
    println!("cargo:rerun-if-env-changed=SOLO_SKIP_WEB_BUILD");

    let skip = std::env::var_os("SOLO_SKIP_WEB_BUILD").is_some_and(|v| !v.is_empty() && v != "0");
    if skip {
        placeholder(&out, "The web UI was not built (SOLO_SKIP_WEB_BUILD is set).");
        return;
    }
    if let Err(problem) = build(&web, &out) {
        println!("cargo:warning=the web UI was not built: {problem}");
        placeholder(&out, &format!("The web UI could not be built: {problem}"));
    }
}

fn run(dir: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run `{program}`: {e} (install Node.js and npm)"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed with {status}", args.join(" ")))
    }
}

fn build(web: &Path, out: &Path) -> Result<(), String> {
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules/.package-lock.json");
    let stale = match (
        std::fs::metadata(&lock).and_then(|m| m.modified()),
        std::fs::metadata(&installed).and_then(|m| m.modified()),
    ) {
        (Ok(lock), Ok(installed)) => lock > installed,
        _ => true,
    };
    if stale {
        run(web, "npm", &["ci", "--no-audit", "--no-fund", "--loglevel=error"])?;
    }
    let out_dir = out.to_str().ok_or("the build directory path is not UTF-8")?;
    run(web, "npm", &["run", "--silent", "build", "--", "--outDir", out_dir, "--emptyOutDir"])?;
    if !out.join("index.html").exists() {
        return Err("the build produced no index.html".into());
    }
    Ok(())
}

fn placeholder(out: &Path, why: &str) {
    let _ = std::fs::remove_dir_all(out);
    let _ = std::fs::create_dir_all(out);
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Solo Realtime</title></head>\
         <body><h1>Solo Realtime</h1><p>{why}</p><p>The API is available under <a href=\"/api/openapi.json\">/api</a>. \
         Install Node.js 20 and npm, then rebuild with <code>cargo build --release</code>.</p></body></html>"
    );
    let _ = std::fs::write(out.join("index.html"), page);
}
