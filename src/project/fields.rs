//! What a project file says that Wayfarer would otherwise take silently: fields it does not
//! know (a typo such as `overlapp` would leave the default in place) and keys given twice
//! (JSON readers keep the last one).

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Keyframe, Lora, MaskSettings, MergeSettings, Project, Segment, StructureVideo};
use crate::plan::ModelProfile;

/// One step of a path into the document: a field name or an item index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The steps of a `serde_ignored` path, from the root.
fn steps(path: &serde_ignored::Path) -> Vec<Step> {
    let mut out = Vec::new();
    let mut at = path;
    loop {
        match at {
            serde_ignored::Path::Root => break,
            serde_ignored::Path::Seq { parent, index } => {
                out.push(Step::Index(*index));
                at = parent;
            }
            serde_ignored::Path::Map { parent, key } => {
                out.push(Step::Key(key.clone()));
                at = parent;
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => at = parent,
        }
    }
    out.reverse();
    out
}

/// The field names of the struct `T` in a project file, read from its `Deserialize`.
fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    /// A deserializer that only notes the fields a struct asks for.
    struct Introspect<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for Introspect<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only the field names are read"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("only the field names are read"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Introspect(&mut fields));
    fields
}

/// The known field names where `parent` (the steps above an unknown field) points.
fn known_at(parent: &[Step]) -> &'static [&'static str] {
    let names: Vec<&str> = parent
        .iter()
        .filter_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
        .collect();
    match names.as_slice() {
        [] => field_names::<Project>(),
        ["keyframes"] => field_names::<Keyframe>(),
        ["segments"] => field_names::<Segment>(),
        ["segments", "loras"] => field_names::<Lora>(),
        ["merge"] => field_names::<MergeSettings>(),
        ["mask"] => field_names::<MaskSettings>(),
        ["structure_video"] => field_names::<StructureVideo>(),
        ["profile"] => field_names::<ModelProfile>(),
        ["color_match"] => field_names::<crate::fidelity::ColorMatch>(),
        _ => &[],
    }
}

/// Edit distance between two names (insertions, deletions, substitutions).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The known name closest to `name`, when it is close enough to be a typo of it.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    known
        .iter()
        .map(|&k| (distance(&lower, k), k))
        .filter(|&(d, k)| d <= (k.chars().count() / 3).max(2))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// Where a field sits, in words: "the project", "keyframe 3", "segment 2's LoRA 1".
fn place(parent: &[Step]) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut key: Option<&str> = None;
    for step in parent {
        match step {
            Step::Key(k) => {
                if let Some(k) = key.take() {
                    words.push(format!("`{k}`"));
                }
                key = Some(k);
            }
            Step::Index(i) => {
                let noun = match key.take() {
                    Some("keyframes") => "keyframe".to_string(),
                    Some("segments") => "segment".to_string(),
                    Some("loras") => "LoRA".to_string(),
                    Some(other) => format!("`{other}` item"),
                    None => "item".to_string(),
                };
                words.push(format!("{noun} {}", i + 1));
            }
        }
    }
    if let Some(k) = key {
        words.push(format!("`{k}`"));
    }
    if words.is_empty() {
        "the project".into()
    } else {
        words.join("'s ")
    }
}

/// Deserialises a project from `value` (a migrated document) in one pass, noting every
/// field a project does not have: the project (or serde's error, with its path) and a
/// warning per ignored field, with the known name it is closest to.
pub fn deserialize_noting_unknown(
    value: &serde_json::Value,
) -> (
    Result<Project, serde_path_to_error::Error<serde_json::Error>>,
    Vec<String>,
) {
    let mut found: Vec<Vec<Step>> = Vec::new();
    let project = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        value,
        &mut |path: serde_ignored::Path| found.push(steps(&path)),
    ));
    let warnings = found
        .into_iter()
        .filter_map(|mut path| {
            let Some(Step::Key(name)) = path.pop() else {
                return None;
            };
            let known = known_at(&path);
            let guess = closest(&name, known)
                .map_or_else(|| ".".to_string(), |k| format!(" — did you mean `{k}`?"));
            Some(format!(
                "unknown field `{name}` in {}{guess} It is ignored.",
                place(&path)
            ))
        })
        .collect();
    (project, warnings)
}

/// Reads JSON text only to find a key given twice in one object; the error names the key,
/// and `serde_json` adds its line and column.
struct NoDuplicates;

impl<'de> Deserialize<'de> for NoDuplicates {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicates, A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicates, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("the key `{key}` is given twice")));
            }
            map.next_value::<NoDuplicates>()?;
        }
        Ok(NoDuplicates)
    }
}

/// An error naming the first key given twice in one object of `text`, and its line.
pub fn check_duplicate_keys(text: &str) -> crate::error::Result<()> {
    serde_json::from_str::<NoDuplicates>(text)
        .map(|_| ())
        .map_err(|e| {
            let why = e.to_string();
            let why = why.split(" at line ").next().unwrap_or(&why).to_string();
            crate::error::UserError::input(format!(
                "project file: {why} (line {}, column {})",
                e.line(),
                e.column()
            ))
            .hint("keep one of the two: Wayfarer will not guess which one you meant")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_closest_name() {
        assert_eq!(
            closest("overlapp", field_names::<Project>()),
            Some("overlap")
        );
        assert_eq!(closest("imag", field_names::<Keyframe>()), Some("image"));
        assert_eq!(closest("zzzzzzzz", field_names::<Project>()), None);
        assert!(field_names::<Segment>().contains(&"negative_prompt"));
    }

    #[test]
    fn places_read_as_words() {
        assert_eq!(place(&[]), "the project");
        let k = [Step::Key("keyframes".into()), Step::Index(2)];
        assert_eq!(place(&k), "keyframe 3");
        let l = [
            Step::Key("segments".into()),
            Step::Index(0),
            Step::Key("loras".into()),
            Step::Index(1),
        ];
        assert_eq!(place(&l), "segment 1's LoRA 2");
        assert_eq!(place(&[Step::Key("mask".into())]), "`mask`");
    }
}
