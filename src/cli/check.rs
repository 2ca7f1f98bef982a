//! `deeplog check FILE`: parse and check a model, print its diagnostics.

use std::path::Path;

use deeplog_language::diagnostic::Severity;

use super::CliError;

pub fn check(file: &Path, json: bool) -> Result<(), CliError> {
    let source =
        std::fs::read_to_string(file).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    let name = file.display().to_string();
    let checked = deeplog_language::check_source(&source);
    if json {
        let all: Vec<_> = checked.diagnostics.iter().map(|d| d.to_json(&name, &source)).collect();
        println!("{}", serde_json::Value::Array(all));
    } else {
        for d in &checked.diagnostics {
            eprint!("{}", d.render(&name, &source));
        }
    }
    let errors = checked.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = checked.diagnostics.len() - errors;
    if errors > 0 {
        return Err(CliError::Diagnostics { file: name, errors, warnings });
    }
    if !json {
        let statements = checked.model.map_or(0, |m| m.statements.len());
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        eprintln!("{name}: {}, {}", plural(statements, "statement"), plural(warnings, "warning"));
    }
    Ok(())
}
