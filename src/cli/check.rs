//! `deeplog check FILE`: parse and check a model, print its diagnostics.

use std::path::Path;

use deeplog_language::diagnostic::Severity;
use deeplog_semirings::Logic;

use super::CliError;

pub fn check(file: &Path, json: bool, logic: Option<Logic>) -> Result<(), CliError> {
    let source = deeplog_circuits::formats::read_text(file)?;
    let name = file.display().to_string();
    let base = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let checked = deeplog_language::check_source_in(&source, base);
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
        let statements = checked.model.as_ref().map_or(0, |m| m.statements.len());
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let chosen = match (logic, checked.model.as_ref().and_then(|m| m.logic())) {
            (Some(l), _) => format!("{l} (from --logic)"),
            (None, Some(l)) => format!("{l} (from the model)"),
            (None, None) => "probability (the default)".to_string(),
        };
        eprintln!("{name}: {}, {}; logic: {chosen}", plural(statements, "statement"), plural(warnings, "warning"));
    }
    Ok(())
}
