//! The studio's words for what the engine says: field paths of the project file, hints that
//! name command-line flags, device reasons that name environment variables.

/// A message worded for the studio: the project file's field paths the engine names
/// (`keyframes[1].image`, numbered from 0) become the words the studio shows
/// ("keyframe 2's image").
pub(super) fn studio_words(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("keyframes[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "keyframes[".len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let index = after[..digits].parse::<usize>().ok();
        if let (Some(index), Some(tail)) = (index, after[digits..].strip_prefix(']')) {
            let (field, tail) = if let Some(t) = tail.strip_prefix(".image") {
                ("'s image", t)
            } else if let Some(t) = tail.strip_prefix(".frame") {
                ("'s position", t)
            } else {
                ("", tail)
            };
            out.push_str("keyframe ");
            out.push_str(&(index + 1).to_string());
            out.push_str(field);
            rest = tail;
        } else {
            out.push_str("keyframes[");
            rest = after;
        }
    }
    out.push_str(rest);
    out.replace("structure_video.", "structure video ")
        .replace("end_frame", "end frame")
        .replace("start_frame", "start frame")
        .replace("motion_strength", "strength")
}

/// A hint worded for the studio: hints the engine words for the command line or the project
/// file name the control that does the same here.
pub(super) fn studio_hint(hint: &str) -> &str {
    const IN_THE_STUDIO: &[(&str, &str)] = &[
        (
            "add another keyframe image, or set \"length\"",
            "drop images on the timeline, or use Edit > Add images… (Ctrl+I)",
        ),
        (
            "pass --server",
            "add a server address under Servers in the Render panel",
        ),
    ];
    IN_THE_STUDIO
        .iter()
        .find(|(engine, _)| hint.starts_with(engine))
        .map_or(hint, |(_, studio)| studio)
}

/// A device's description without the environment variable the command line may set
/// ("…; WAYFARER_COMPUTE=wgpu uses it anyway"): the studio has no such control.
pub(super) fn studio_device_words(device: &str) -> String {
    let mut out = device.to_string();
    while let Some(start) = out.find("; WAYFARER_COMPUTE") {
        let end = out[start..].find(')').map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::studio_words;

    #[test]
    fn field_paths_read_as_words_numbered_from_1() {
        assert_eq!(
            studio_words("keyframes[2].frame: position 8 comes before keyframes[1] at 9"),
            "keyframe 3's position: position 8 comes before keyframe 2 at 9"
        );
        assert_eq!(
            studio_words("keyframes[0].image: empty path"),
            "keyframe 1's image: empty path"
        );
        assert_eq!(
            studio_words("structure_video.end_frame 200"),
            "structure video end frame 200"
        );
        assert_eq!(studio_words("keyframes[x] stays"), "keyframes[x] stays");
    }
}
