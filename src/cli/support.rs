//! Command-line support for the `wayfarer` binary: mistyped commands, command-line errors
//! in Wayfarer's `error:`/`hint:` form, plain-worded number parsers, clipped messages.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use wayfarer::UserError;

use crate::Cli;

/// A first argument that is neither a command, an option nor a path that exists or looks
/// like one (`rendr`): a mistyped command, said as such instead of opening the studio on a
/// project of that name.
pub fn unknown_command() -> Option<UserError> {
    let first = std::env::args_os().nth(1)?;
    let word = first.to_str()?;
    if word.starts_with('-')
        || word.contains(['/', '.', '\\'])
        || word.is_empty()
        || Path::new(word).exists()
    {
        return None;
    }
    let names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    if word == "help" || names.iter().any(|n| n == word) {
        return None;
    }
    let closest = names
        .iter()
        .map(|n| (edit_distance(n, word), n))
        .filter(|(d, _)| *d <= 2)
        .min();
    let mut e = UserError::input(format!("unknown command '{word}'"));
    if let Some((_, name)) = closest {
        e = e.hint(format!("did you mean 'wayfarer {name}'?"));
    }
    Some(e.hint(format!(
        "the commands are {}; to open a project in the studio give its path, e.g. {word}.json",
        names.join(", ")
    )))
}

/// Levenshtein distance between two short words.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A command-line mistake said the Wayfarer way: `error:` and the cause on one line, then
/// `hint:` lines (clap's tips and where the options are described); exit code 2. Help and
/// version requests print as clap prints them.
pub fn command_line_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let text = e.render().to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .collect();
    let cause: Vec<&str> = lines
        .iter()
        .filter(|l| !l.starts_with("tip: "))
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect();
    let cause = if cause.is_empty() {
        "the command line is not valid".to_string()
    } else {
        cause.join(" ")
    };
    eprintln!("error: {cause}");
    for tip in lines.iter().filter_map(|l| l.strip_prefix("tip: ")) {
        eprintln!("hint: {tip}");
    }
    let command = std::env::args()
        .nth(1)
        .filter(|a| Cli::command().get_subcommands().any(|c| c.get_name() == a));
    match command {
        Some(c) => eprintln!("hint: 'wayfarer {c} --help' lists its options"),
        None => eprintln!("hint: 'wayfarer --help' lists the commands"),
    }
    ExitCode::from(2)
}

/// A whole number from `MIN` to `MAX` on the command line, with a plain message otherwise.
pub fn whole<const MIN: u64, const MAX: u64>(text: &str) -> Result<u64, String> {
    let plain = |max: u64| {
        let digits = max.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    match text.trim().parse::<u64>() {
        Ok(v) if (MIN..=MAX).contains(&v) => Ok(v),
        _ => Err(format!(
            "give a whole number from {} to {}",
            plain(MIN),
            plain(MAX)
        )),
    }
}

/// The x264 quality (CRF): a whole number from 0 (lossless) to 51.
pub fn crf_value(text: &str) -> Result<u8, String> {
    whole::<0, 51>(text)
        .map(|v| v as u8)
        .map_err(|e| format!("{e} (lower is better quality; 18 to 28 is usual)"))
}

/// A message of at most 1,000 characters: a value from the input (a 100 kB string in a
/// project field) is never repeated back in full.
pub fn clipped(text: &str) -> String {
    const MAX: usize = 1000;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let mut out: String = text.chars().take(MAX).collect();
    out.push_str("… (cut)");
    out
}
