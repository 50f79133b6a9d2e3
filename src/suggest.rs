//! "Did you mean": the known name a misspelt one most likely meant, for field names, enum
//! values, tenants and sidecars alike.

/// The known name a misspelt `key` most likely meant: same letters ignoring case, `_` and `-`
/// (`mount_path` → `mountPath`), else within a small Damerau-Levenshtein distance (a swapped pair
/// of letters counts once: `memroy` → `memory`). About one edit in three letters is still a
/// typo; more than that is a different word, and a wrong guess is worse than none.
pub fn closest<'a, S: AsRef<str>>(key: &str, known: &'a [S]) -> Option<&'a str> {
    let fold = |s: &str| s.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect::<String>();
    if let Some(k) = known.iter().find(|k| fold(k.as_ref()) == fold(key)) {
        return Some(k.as_ref());
    }
    let limit = (key.chars().count() / 3).max(1);
    let folded = fold(key);
    let length = folded.chars().count();
    known
        .iter()
        .map(|k| (fold(k.as_ref()), k))
        // The distance is at least the difference in length: a name that far off is not compared
        // at all (the comparison costs the product of the lengths, and a key may be a megabyte).
        .filter(|(f, _)| f.chars().count().abs_diff(length) <= limit)
        .map(|(f, k)| (strsim::damerau_levenshtein(&folded, &f), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspellings_find_their_field() {
        let known: Vec<String> = ["image", "build", "mountPath", "readOnly"].map(String::from).to_vec();
        assert_eq!(closest("imagee", &known), Some("image"));
        assert_eq!(closest("mount_path", &known), Some("mountPath"));
        assert_eq!(closest("ReadOnly", &known), Some("readOnly"));
        assert_eq!(closest("zzz", &known), None);
        let resources = ["memory", "cpus", "pids"];
        assert_eq!(closest("memroy", &resources), Some("memory"));
        assert_eq!(closest("cpu", &resources), Some("cpus"));
        assert_eq!(closest("storage", &resources), None);
    }

    #[test]
    fn tenant_names_find_theirs() {
        let names = ["acme", "globex"];
        assert_eq!(closest("acmee", &names), Some("acme"));
        assert_eq!(closest("globx", &names), Some("globex"));
        assert_eq!(closest("zzz", &names), None);
        assert_eq!(closest::<&str>("acme", &[]), None);
    }
}
