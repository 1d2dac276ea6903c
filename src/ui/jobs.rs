//! Work the studio runs off the UI thread: thumbnails, renders, decoding for the player,
//! guide and mask previews. Each job posts its result over a bounded channel and asks for
//! a repaint.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::error::{ErrorCategory, Result, UserError};
use crate::generate::{self, CancelToken};
use crate::guide::CallGuide;
use crate::media::{self, Frame};
use crate::project::Project;
use crate::render::{self, RenderEvent, RenderSummary};

/// Spawns a named thread; a failure to spawn becomes a [`UserError`].
pub fn spawn<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .map_err(|e| {
            UserError::new(
                ErrorCategory::SystemResource,
                format!("cannot start a worker thread: {e}"),
            )
        })
}

/// A picture scaled to fit `max_w` x `max_h` (aspect kept), as egui pixels.
pub fn to_color_image(frame: &Frame, max_w: u32, max_h: u32) -> egui::ColorImage {
    let scale = (f64::from(max_w) / f64::from(frame.width))
        .min(f64::from(max_h) / f64::from(frame.height))
        .min(1.0);
    let w = ((f64::from(frame.width) * scale).round() as u32).max(1);
    let h = ((f64::from(frame.height) * scale).round() as u32).max(1);
    let small = if (w, h) == (frame.width, frame.height) {
        frame.clone()
    } else {
        let img = frame.clone().into_rgb_image();
        Frame::from_rgb_image(image::imageops::resize(
            &img,
            w,
            h,
            image::imageops::FilterType::Triangle,
        ))
    };
    egui::ColorImage::from_rgb([w as usize, h as usize], &small.data)
}

/// A thumbnail result: the image path and its picture or why it failed.
pub type ThumbResult = (PathBuf, Result<egui::ColorImage>);

/// Loads thumbnails in the background.
pub struct ThumbLoader {
    tx: SyncSender<ThumbResult>,
    /// Finished thumbnails.
    pub rx: Receiver<ThumbResult>,
}

impl Default for ThumbLoader {
    fn default() -> Self {
        let (tx, rx) = sync_channel(256);
        Self { tx, rx }
    }
}

impl ThumbLoader {
    /// Starts loading `path`; the result arrives on `rx`.
    pub fn request(&self, path: PathBuf, ctx: &egui::Context) {
        let tx = self.tx.clone();
        let ctx = ctx.clone();
        let spawned = spawn("wayfarer-thumbnail", move || {
            let result = media::load_image(&path).map(|f| to_color_image(&f, 160, 90));
            let _ = tx.send((path, result));
            ctx.request_repaint();
        });
        if let Err(e) = spawned {
            let _ = self.tx.try_send((PathBuf::new(), Err(e)));
        }
    }
}

/// A render running in the background.
pub struct RenderJob {
    /// Stops the render at the next frame.
    pub cancel: CancelToken,
    /// Events from the render.
    pub events: Receiver<RenderEvent>,
    /// Where the MP4 goes.
    pub output: PathBuf,
    handle: Option<JoinHandle<Result<RenderSummary>>>,
}

impl RenderJob {
    /// Starts rendering `project` with `backend` into `output` as `encode` says; `options` hold the call
    /// cache (resume) and the cost store (the plan's cost law, timings recorded).
    pub fn start(
        project: Project,
        project_dir: PathBuf,
        (output, encode): (PathBuf, crate::media::EncodeOptions),
        backend: &generate::BackendConfig,
        options: render::RenderOptions,
        ctx: &egui::Context,
    ) -> Result<Self> {
        let session = render::Session::open(backend)?;
        let cancel = CancelToken::new();
        let (tx, rx) = sync_channel::<RenderEvent>(64);
        let (job_cancel, job_output, job_ctx) = (cancel.clone(), output.clone(), ctx.clone());
        let handle = spawn("wayfarer-render", move || {
            let mut on_event = |e: RenderEvent| {
                let _ = tx.send(e);
                job_ctx.request_repaint();
            };
            let mut request =
                render::RenderRequest::new(&project, &project_dir, &job_output, &options);
            request.encode = encode;
            let result = session.run(&request, &mut on_event, &job_cancel);
            job_ctx.request_repaint();
            result
        })?;
        Ok(Self {
            cancel,
            events: rx,
            output,
            handle: Some(handle),
        })
    }

    /// The render's result once it has finished, else `None`.
    pub fn try_finish(&mut self) -> Option<Result<RenderSummary>> {
        if !self.handle.as_ref().is_some_and(JoinHandle::is_finished) {
            return None;
        }
        let handle = self.handle.take()?;
        Some(handle.join().unwrap_or_else(|_| {
            Err(UserError::new(
                ErrorCategory::GenerationPipeline,
                "the render stopped unexpectedly",
            )
            .hint("please report this with the project file"))
        }))
    }
}

/// Frames decoded or built for the player, scaled for display.
pub type PreviewResult = Result<Vec<egui::ColorImage>>;

/// A frame rate in words: `16`, `29.97`, not `16/1` or `30000/1001`.
fn fps_words((num, den): (i32, i32)) -> String {
    if den <= 0 || num <= 0 {
        return "unknown".into();
    }
    if num % den == 0 {
        return (num / den).to_string();
    }
    let rate = f64::from(num) / f64::from(den);
    format!("{rate:.2}")
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// Largest preview picture.
pub const PREVIEW_SIZE: (u32, u32) = (640, 360);

/// Decodes a video for the player in the background.
pub fn decode_preview(path: &Path, ctx: &egui::Context) -> Result<Receiver<PreviewResult>> {
    let (tx, rx) = sync_channel(1);
    let (path, ctx) = (path.to_path_buf(), ctx.clone());
    spawn("wayfarer-decode", move || {
        let result = media::VideoDecoder::open(&path).and_then(|decoder| {
            decoder
                .map(|f| f.map(|f| to_color_image(&f, PREVIEW_SIZE.0, PREVIEW_SIZE.1)))
                .collect()
        });
        let _ = tx.send(result);
        ctx.request_repaint();
    })?;
    Ok(rx)
}

/// Builds the guide (or mask) frames of one planned call in the background. Context frames
/// come from `rendered` (the last render) when given, else they show gray.
pub fn guide_preview(
    project: Project,
    project_dir: PathBuf,
    call_index: usize,
    mask: bool,
    rendered: Option<PathBuf>,
    costs: Option<crate::plan::CostModel>,
    ctx: &egui::Context,
) -> Result<Receiver<PreviewResult>> {
    let (tx, rx) = sync_channel(1);
    let ctx = ctx.clone();
    spawn("wayfarer-guide", move || {
        let result = (|| {
            // The studio's plan: the same cost law, so call numbers match.
            let plan = crate::plan::plan_with_costs(&project, costs.as_ref())?;
            let call = plan
                .calls
                .get(call_index)
                .ok_or_else(|| UserError::input(format!("no call {call_index} in the plan")))?;
            // Work at preview size: the picture is for looking at, not for generating.
            let (w, h) = fit_even(plan.width, plan.height, PREVIEW_SIZE.0, PREVIEW_SIZE.1);
            let mut anchors = Vec::with_capacity(project.keyframes.len());
            for k in 0..project.keyframes.len() {
                let needed = call.anchors.iter().any(|a| a.keyframe == k);
                anchors.push(if needed {
                    media::crop_fit(
                        &media::load_image(&project.image_path(&project_dir, k))?,
                        w,
                        h,
                    )?
                } else {
                    Frame::gray(w, h)
                });
            }
            let context = match (&rendered, call.lead == crate::plan::Lead::Context) {
                (Some(path), true) => media::decode_all(path)?
                    .into_iter()
                    .skip(call.start as usize)
                    .take(call.lead_frames as usize)
                    .map(|f| media::crop_fit(&f, w, h))
                    .collect::<Result<Vec<_>>>()?,
                _ => Vec::new(),
            };
            let guide = CallGuide::build(call, &anchors, &context, w, h);
            let frames = if mask {
                guide.mask_frames(w, h)
            } else {
                guide.frames
            };
            Ok(frames.iter().map(|f| to_color_image(f, w, h)).collect())
        })();
        let _ = tx.send(result);
        ctx.request_repaint();
    })?;
    Ok(rx)
}

fn fit_even(w: u32, h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let scale = (f64::from(max_w) / f64::from(w))
        .min(f64::from(max_h) / f64::from(h))
        .min(1.0);
    let even = |v: f64| ((v / 2.0).round() as u32 * 2).max(2);
    (even(f64::from(w) * scale), even(f64::from(h) * scale))
}

/// Crop and flow previews of a structure video.
pub struct StructurePreview {
    /// The first used source frame, center-cropped and resized to the output aspect.
    pub crop: egui::ColorImage,
    /// The flow to the next source frame, as a colour picture.
    pub flow: egui::ColorImage,
    /// Source size and frame count.
    pub info: String,
}

/// Builds the previews of a structure video in the background.
pub fn structure_preview(
    sv: crate::project::StructureVideo,
    project_dir: PathBuf,
    width: u32,
    height: u32,
    ctx: &egui::Context,
) -> Result<Receiver<Result<StructurePreview>>> {
    let (tx, rx) = sync_channel(1);
    let ctx = ctx.clone();
    spawn("wayfarer-structure-preview", move || {
        let result = (|| {
            use crate::flow::FlowEstimator;
            use crate::gpu::Compute;
            let path = project_dir.join(&sv.path);
            let info = media::probe(&path)?;
            let (w, h) = fit_even(width, height, PREVIEW_SIZE.0 / 2, PREVIEW_SIZE.1 / 2);
            let mut decoder = media::VideoDecoder::open(&path)?;
            let mut frames = Vec::new();
            let mut index = 0u32;
            while let Some(f) = decoder.next_frame()? {
                if index >= sv.start_frame {
                    frames.push(crate::gpu::CpuCompute.crop_fit(&f, w, h)?);
                    if frames.len() == 2 {
                        break;
                    }
                }
                index += 1;
            }
            let first = frames.first().cloned().ok_or_else(|| {
                UserError::input(format!(
                    "structure_video.start_frame: {} is past the end of the video",
                    sv.start_frame
                ))
            })?;
            let second = frames.get(1).cloned().unwrap_or_else(|| first.clone());
            let flow = crate::flow::DenseInverseSearch::default().estimate(&second, &first)?;
            Ok(StructurePreview {
                crop: to_color_image(&first, w, h),
                flow: to_color_image(&crate::flow::flow_to_color(&flow, None), w, h),
                info: format!(
                    "{}x{} {} video, {} frames at {} fps",
                    info.width,
                    info.height,
                    info.codec,
                    info.frames,
                    fps_words(info.fps)
                ),
            })
        })();
        let _ = tx.send(result);
        ctx.request_repaint();
    })?;
    Ok(rx)
}

/// Runs the pre-flight checks in the background.
pub fn preflight_check(
    project: Project,
    project_dir: PathBuf,
    output: PathBuf,
    backend: crate::generate::BackendConfig,
    ctx: &egui::Context,
) -> Result<Receiver<crate::generate::PreflightReport>> {
    let (tx, rx) = sync_channel(1);
    let ctx = ctx.clone();
    spawn("wayfarer-preflight", move || {
        let report = crate::generate::preflight(&project, &project_dir, &output, &backend);
        let _ = tx.send(report);
        ctx.request_repaint();
    })?;
    Ok(rx)
}

/// Tests `servers` in the background ([`crate::generate::comfy::test_connection`]): one
/// report whose items name their server.
pub fn test_servers(
    servers: Vec<String>,
    template: Option<PathBuf>,
    ctx: &egui::Context,
) -> Result<Receiver<crate::generate::PreflightReport>> {
    let (tx, rx) = sync_channel(1);
    let ctx = ctx.clone();
    spawn("wayfarer-server-test", move || {
        let mut items = Vec::new();
        for server in &servers {
            match crate::generate::comfy::test_connection(
                server,
                template.as_deref(),
                std::time::Duration::from_secs(30),
            ) {
                Ok(report) => items.extend(report.items.into_iter().map(|mut i| {
                    if !i.name.starts_with("server ") {
                        i.name = format!("{server}: {}", i.name);
                    }
                    i
                })),
                Err(e) => items.push(crate::generate::preflight::item(server, Err(e))),
            }
        }
        let _ = tx.send(crate::generate::PreflightReport { items });
        ctx.request_repaint();
    })?;
    Ok(rx)
}

/// The settings a cost law was looked up for, and the law (`None`: the profile's).
pub type CostLookup = (generate::BackendConfig, Option<crate::plan::CostModel>);

/// Looks up the cost law measured on the backend `config` describes, in the cost store at
/// `costs_file`, in the background (finding the backend's identity may load a template or
/// a flow model).
pub fn cost_lookup(
    config: generate::BackendConfig,
    costs_file: PathBuf,
    ctx: &egui::Context,
) -> Result<Receiver<CostLookup>> {
    let (tx, rx) = sync_channel(1);
    let ctx = ctx.clone();
    spawn("wayfarer-costs", move || {
        // An identity that cannot be found (a missing template) plans with the profile's
        // law; pre-flight reports the problem itself.
        let model = generate::backend_identity(&config)
            .ok()
            .and_then(|id| render::CostStore::open(costs_file).model(&id));
        let _ = tx.send((config, model));
        ctx.request_repaint();
    })?;
    Ok(rx)
}

/// What the live preview receives from its stream.
pub enum LiveMessage {
    /// A stream event.
    Event(crate::stream::StreamEvent),
    /// A frame, scaled for display.
    Frame(u32, egui::ColorImage),
    /// The stream ended (an error, or cancelled).
    Finished(Result<crate::stream::StreamSummary>),
}

/// A live preview running in the background: the project streamed (keyframes generated in
/// the background, frames between them interpolated) and shown as it is produced.
pub struct LiveJob {
    /// Stops the stream.
    pub cancel: CancelToken,
    /// Events and frames.
    pub rx: Receiver<LiveMessage>,
}

impl LiveJob {
    /// Streams `project`: keyframes from ComfyUI (img2img on the first server) when the
    /// backend is `comfyui`, else the keyframe images themselves; the built-in morph between.
    /// With `positions` (the plan's keyframe positions, after snapping) the stream puts the
    /// keyframes there, so it has as many frames as a render.
    pub fn start(
        project: &Project,
        positions: Option<&[u32]>,
        project_dir: &Path,
        backend: &generate::BackendConfig,
        ctx: &egui::Context,
    ) -> Result<Self> {
        use crate::stream;
        let mut plan = stream::StreamPlan::from_project(project, project_dir, 0.5, false)?;
        if let Some(positions) = positions
            && positions.len() == plan.keyframes.len()
        {
            for (k, frame) in plan.keyframes.iter_mut().zip(positions) {
                k.frame = *frame;
            }
        }
        let keyframes = match (backend.kind.as_str(), backend.servers.first()) {
            ("comfyui", Some(server)) => stream::KeyframeChoice::ComfyUi {
                server: server.clone(),
                template: None,
                timeout: std::time::Duration::from_secs(backend.call_timeout_secs.max(1)),
            },
            _ => stream::KeyframeChoice::Builtin {
                latency: std::time::Duration::ZERO,
            },
        };
        let session = stream::Session::open(&keyframes, &stream::InterpolatorChoice::Builtin)?;
        let cancel = CancelToken::new();
        // Bounded: the stream waits for the studio to show its frames.
        let (tx, rx) = sync_channel::<LiveMessage>(32);
        let (job_cancel, ctx) = (cancel.clone(), ctx.clone());
        spawn("wayfarer-live", move || {
            let result = session.run(
                &plan,
                &stream::StreamConfig::default(),
                &mut |i, frame| {
                    let _ = tx.send(LiveMessage::Frame(
                        i,
                        to_color_image(frame, PREVIEW_SIZE.0, PREVIEW_SIZE.1),
                    ));
                    ctx.request_repaint();
                    Ok(())
                },
                &mut |e| {
                    let _ = tx.send(LiveMessage::Event(e));
                },
                &job_cancel,
            );
            let _ = tx.send(LiveMessage::Finished(result));
            ctx.request_repaint();
        })?;
        Ok(Self { cancel, rx })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn frame_rates_read_as_numbers() {
        assert_eq!(super::fps_words((16, 1)), "16");
        assert_eq!(super::fps_words((30000, 1001)), "29.97");
        assert_eq!(super::fps_words((25, 2)), "12.5");
        assert_eq!(super::fps_words((0, 0)), "unknown");
    }
}
