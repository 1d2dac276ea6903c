// Dense inverse search on the GPU (`flow::dis_wgpu`); the same arithmetic, in the same order,
// as the CPU twin `flow::dis` (src/flow/dis.rs). Keep `DisParams` in sync with the Rust one.
struct DisParams {
    // This level's size.
    w: u32, h: u32,
    // The source size (the finer level a half-size image is made from).
    sw: u32, sh: u32,
    // Patch size, distance between patch origins, Gauss-Newton iterations.
    pw: u32, ph: u32, stride: u32, iterations: u32,
    // Patches across and down, and the last patch origin on each axis.
    nx: u32, ny: u32, last_x: u32, last_y: u32,
};

// The origin of patch `i` along an axis: every `stride` pixels, the last flush with the edge.
fn origin(i: u32, stride: u32, last: u32) -> u32 {
    return min(i * stride, last);
}
