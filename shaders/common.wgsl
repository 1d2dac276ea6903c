// Shared by every compute shader; keep `Params` in sync with `gpu::Params` (src/gpu/mod.rs).
struct Params {
    src_w: u32, src_h: u32, dst_w: u32, dst_h: u32,
    crop_x: u32, crop_y: u32, crop_w: u32, crop_h: u32,
    amount: f32, _pad0: f32, _pad1: f32, _pad2: f32,
};

fn unpack(p: u32) -> vec3<f32> {
    return vec3<f32>(f32(p & 0xffu), f32((p >> 8u) & 0xffu), f32((p >> 16u) & 0xffu));
}

// Rounds half up and clamps to 0..=255 (the resize; the CPU path rounds its fixed-point sums
// half up too, see `gpu::kernels`).
fn pack(v: vec3<f32>) -> u32 {
    let r = vec3<u32>(clamp(floor(v + vec3<f32>(0.5)), vec3<f32>(0.0), vec3<f32>(255.0)));
    return r.x | (r.y << 8u) | (r.z << 16u) | (255u << 24u);
}
