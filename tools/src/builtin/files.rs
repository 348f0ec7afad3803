//! A sandboxed, read-only file workspace shipped with toolgrad
//! (`data/workspace/`): paths are relative, `..` and absolute paths are refused.

use serde_json::{json, Value};

use super::spec::{req, Args, Builtin, Ty};
use super::Env;

pub const TOOLS: &[Builtin] = &[
    Builtin {
        name: "list_files",
        domain: "files",
        description: "Lists the files in a folder of the workspace.",
        params: &[req(
            "directory",
            Ty::Str,
            "directory",
            "Relative folder, e.g. reports.",
        )],
        outputs: &[("files[]", "file_path")],
        asks: &[
            "show me which files are in my {directory} folder",
            "list the contents of the {directory} folder",
        ],
        tells: &[
            "The {directory} folder holds {files}.",
            "In {directory} there are: {files}.",
        ],
        run: list_files,
    },
    Builtin {
        name: "read_file",
        domain: "files",
        description: "Reads a text file of the workspace.",
        params: &[req(
            "path",
            Ty::Str,
            "file_path",
            "Relative path, e.g. notes/garden_log.txt.",
        )],
        outputs: &[("content", "text")],
        asks: &[
            "open {path} and show me what it says",
            "read me the file {path}",
        ],
        tells: &[
            "{path} reads: \"{content}\"",
            "Here is {path}: \"{content}\"",
        ],
        run: read_file,
    },
    Builtin {
        name: "file_info",
        domain: "files",
        description: "Size in bytes, lines and words of a workspace file.",
        params: &[req("path", Ty::Str, "file_path", "Relative path.")],
        outputs: &[],
        asks: &[
            "check how big {path} is",
            "tell me how many lines and words {path} has",
        ],
        tells: &[
            "{path} is {bytes} bytes, {lines} lines and {words} words long.",
            "{path} has {lines} lines ({words} words, {bytes} bytes).",
        ],
        run: file_info,
    },
    Builtin {
        name: "search_files",
        domain: "files",
        description: "Finds lines containing a phrase (case-insensitive) across the workspace.",
        params: &[req(
            "query",
            Ty::Str,
            "search_term",
            "The phrase to look for.",
        )],
        outputs: &[("matches[].path", "file_path")],
        asks: &[
            "search my files for \"{query}\"",
            "find every line in my files that mentions \"{query}\"",
        ],
        tells: &[
            "\"{query}\" appears in {matches}.",
            "Lines mentioning \"{query}\": {matches}.",
        ],
        run: search_files,
    },
];

fn checked_path(path: &str) -> Result<String, String> {
    let path = path.trim().trim_start_matches("./");
    if path.starts_with('/') || path.split('/').any(|part| part == "..") {
        return Err(format!(
            "`{path}` is outside the workspace; use a relative path"
        ));
    }
    Ok(path.trim_end_matches('/').to_owned())
}

fn file<'e>(env: &'e Env, args: &Args) -> Result<(String, &'e str), String> {
    let path = checked_path(args.str("path")?)?;
    let text = env
        .files
        .get(path.as_str())
        .copied()
        .ok_or_else(|| format!("no file `{path}` in the workspace"))?;
    Ok((path, text))
}

fn list_files(env: &Env, args: &Args) -> Result<Value, String> {
    let directory = checked_path(args.str("directory")?)?;
    let prefix = if directory.is_empty() {
        String::new()
    } else {
        format!("{directory}/")
    };
    let files: Vec<&str> = env
        .files
        .keys()
        .filter(|p| p.starts_with(&prefix))
        .copied()
        .collect();
    if files.is_empty() {
        return Err(format!("no folder `{directory}` in the workspace"));
    }
    Ok(json!({ "directory": directory, "files": files }))
}

fn read_file(env: &Env, args: &Args) -> Result<Value, String> {
    let (path, text) = file(env, args)?;
    Ok(json!({ "path": path, "content": text.trim_end() }))
}

fn file_info(env: &Env, args: &Args) -> Result<Value, String> {
    let (path, text) = file(env, args)?;
    Ok(json!({
        "path": path,
        "bytes": text.len(),
        "lines": text.lines().count(),
        "words": text.split_whitespace().count(),
    }))
}

fn search_files(env: &Env, args: &Args) -> Result<Value, String> {
    let query = args.str("query")?.trim();
    if query.is_empty() {
        return Err("query must not be empty".into());
    }
    let needle = query.to_lowercase();
    let needle = needle.as_str();
    let matches: Vec<Value> = env
        .files
        .iter()
        .flat_map(|(path, text)| {
            text.lines()
                .enumerate()
                .filter(move |(_, line)| line.to_lowercase().contains(needle))
                .map(move |(i, line)| json!({ "path": path, "line_number": i + 1, "line": line }))
        })
        .collect();
    Ok(json!({ "query": query, "match_count": matches.len(), "matches": matches }))
}
