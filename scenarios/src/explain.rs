//! What the CLI says about a scenario: its RFC references, its whole
//! documentation (`tcpsim explain NAME`), and the closest name to a
//! misspelled one (did-you-mean).

use crate::catalogue::Scenario;

/// The RFC references a text cites, in order of first mention, each once:
/// `RFC 9293 §3.6`, `RFC 5961`, `RFC 9293 Figure 8`. A reference is `RFC`
/// and a number, then a section (`§3.6.1`) or a figure (`Figure 12`) when
/// one follows directly.
pub fn rfc_references(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if *w != "RFC" {
            continue;
        }
        let Some(number) = words.get(i + 1).map(|n| trim_number(n)) else {
            continue;
        };
        if number.is_empty() {
            continue;
        }
        let mut reference = format!("RFC {number}");
        let next = words.get(i + 2).copied().unwrap_or("");
        let after_number_ends_clause = words
            .get(i + 1)
            .is_some_and(|n| n.ends_with([',', ';', ':', '.', ')']));
        if !after_number_ends_clause {
            if next.starts_with('§') {
                let section = next.trim_end_matches(|c: char| !c.is_ascii_digit());
                if section.len() > '§'.len_utf8() {
                    reference.push(' ');
                    reference.push_str(section);
                }
            } else if next == "Figure" {
                let figure = words.get(i + 3).map(|f| trim_number(f)).unwrap_or("");
                if !figure.is_empty() {
                    reference.push_str(&format!(" Figure {figure}"));
                }
            }
        }
        if !found.contains(&reference) {
            found.push(reference);
        }
    }
    found
}

/// The leading digits of `word` (`"9293's"` gives `"9293"`).
fn trim_number(word: &str) -> &str {
    let end = word
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(word.len(), |(i, _)| i);
    &word[..end]
}

/// `tcpsim explain NAME`: the name and summary, the documentation wrapped
/// at 78 columns, and the RFC references it cites, one per line.
pub fn explain(scenario: &Scenario) -> String {
    let mut out = format!("{}: {}\n\n", scenario.name, scenario.summary);
    for line in wrap(scenario.doc, 78) {
        out.push_str(&line);
        out.push('\n');
    }
    let references = rfc_references(scenario.doc);
    if !references.is_empty() {
        out.push_str("\nRFC references:\n");
        for r in references {
            out.push_str(&format!("  {r}\n"));
        }
    }
    out.push_str(&format!(
        "\nRun it: tcpsim run {0}    (ladder; --format json|pcap|ss, --seed N)\n",
        scenario.name
    ));
    out
}

/// `text` in lines of at most `width` columns (a longer word stands alone).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The known name closest to `given` in edit distance (Levenshtein, over
/// characters), if it is close enough to be a likely misspelling: at most
/// a third of the name's length, and at least 1 and at most 3 edits; a name
/// that contains `given` (or is contained in it) also counts. Ties go to
/// the first name in `names`.
pub fn did_you_mean<'a>(given: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let given_lower = given.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for name in names {
        let distance = if name.contains(given_lower.as_str()) && given_lower.len() >= 4
            || given_lower.contains(name)
        {
            1
        } else {
            edit_distance(&given_lower, name)
        };
        let limit = (name.chars().count() / 3).clamp(1, 3);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, name));
        }
    }
    best.map(|(_, name)| name)
}

/// Levenshtein distance over characters (two rows, O(len a * len b)).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_keep_their_section_or_figure_and_appear_once() {
        // The catalogue writes references in several ways; each must come
        // out as the reader would cite it, and a repeated one only once.
        let doc = "RFC 9293 §3.6 Figure 12, case 1. See RFC 5961's threat model, RFC 9293 §3.6, and RFC 1337.";
        assert_eq!(
            rfc_references(doc),
            ["RFC 9293 §3.6", "RFC 5961", "RFC 1337"]
        );
        assert_eq!(
            rfc_references("RFC 9293 Figure 8: x"),
            ["RFC 9293 Figure 8"]
        );
        assert!(rfc_references("no references here").is_empty());
    }

    #[test]
    fn a_misspelling_finds_its_name_and_nonsense_finds_none() {
        // One or two slips (a dropped letter, swapped letters, a missing
        // hyphen) must lead to the right name; a word far from every name
        // must not be "corrected" into one.
        let names = ["lost-final-ack", "lossy-bulk", "handshake", "paws"];
        assert_eq!(did_you_mean("lost-fnal-ack", names), Some("lost-final-ack"));
        assert_eq!(did_you_mean("lossybulk", names), Some("lossy-bulk"));
        assert_eq!(did_you_mean("handshak", names), Some("handshake"));
        assert_eq!(did_you_mean("PAWS", names), Some("paws"));
        assert_eq!(did_you_mean("xyzzy", names), None);
    }
}
