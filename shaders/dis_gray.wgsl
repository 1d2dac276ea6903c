// Luminance (Rec. 601 weights) of packed RGB pixels, as `Gray::from_frame`.
@group(0) @binding(0) var<uniform> p: DisParams;
@group(0) @binding(1) var<storage, read> rgb: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.w || id.y >= p.h) { return; }
    let i = id.y * p.w + id.x;
    let c = rgb[i];
    let r = f32(c & 0xffu);
    let g = f32((c >> 8u) & 0xffu);
    let b = f32((c >> 16u) & 0xffu);
    out[i] = 0.299 * r + 0.587 * g + 0.114 * b;
}
